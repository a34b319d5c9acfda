package spec

// What `crun-lite exec` takes from here: a process exec'd into a running
// container starts from the container's resolved Spec (Read) and changes
// only what exec's own flags say.

// ExecEnv is the environment of an exec'd process: the container's, with
// the settings of envFiles and then env (NAME=VALUE, or NAME for the
// host's value) over it, as run applies them over the image's.
func ExecEnv(base []string, envFiles, env []string) ([]string, error) {
	var settings []string
	for _, f := range envFiles {
		lines, err := envFile(f)
		if err != nil {
			return nil, err
		}
		settings = append(settings, lines...)
	}
	return mergeEnv(base, append(settings, env...)), nil
}

// AllCaps names every capability of the namespace that this process holds
// (exec --privileged).
func AllCaps() []string {
	caps, _ := capSetFor(true, nil, nil)
	return caps
}
