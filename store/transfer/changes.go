package transfer

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// ApplyChanges applies Dockerfile-style instructions to cfg, as podman
// import --change does: CMD, ENTRYPOINT, ENV, WORKDIR, USER, EXPOSE, LABEL,
// VOLUME, STOPSIGNAL. An instruction is "NAME ARGS" or "NAME=ARGS".
func ApplyChanges(cfg *imgspecv1.ImageConfig, changes []string) error {
	for _, c := range changes {
		if err := applyChange(cfg, c); err != nil {
			return fmt.Errorf("change %q: %w", c, err)
		}
	}
	return nil
}

func applyChange(cfg *imgspecv1.ImageConfig, change string) error {
	change = strings.TrimSpace(change)
	i := strings.IndexAny(change, " \t=")
	if i < 0 {
		return fmt.Errorf("no value: use INSTRUCTION VALUE")
	}
	instr, arg := strings.ToUpper(change[:i]), strings.TrimSpace(change[i+1:])
	switch instr {
	case "CMD":
		return commandForm(arg, &cfg.Cmd)
	case "ENTRYPOINT":
		return commandForm(arg, &cfg.Entrypoint)
	case "ENV":
		return keyValues(arg, func(k, v string) { cfg.Env = setEnv(cfg.Env, k, v) })
	case "LABEL":
		return keyValues(arg, func(k, v string) {
			if cfg.Labels == nil {
				cfg.Labels = map[string]string{}
			}
			cfg.Labels[k] = v
		})
	case "WORKDIR":
		cfg.WorkingDir = workdir(cfg.WorkingDir, arg)
	case "USER":
		cfg.User = arg
	case "STOPSIGNAL":
		cfg.StopSignal = arg
	case "EXPOSE":
		return expose(cfg, arg)
	case "VOLUME":
		return volumes(cfg, arg)
	default:
		return fmt.Errorf("unsupported instruction %s (use CMD, ENTRYPOINT, ENV, WORKDIR, USER, EXPOSE, LABEL, VOLUME or STOPSIGNAL)", instr)
	}
	return nil
}

// commandForm parses the exec form ["prog", "arg"] or the shell form, which
// runs through /bin/sh -c.
func commandForm(arg string, dst *[]string) error {
	if strings.HasPrefix(arg, "[") {
		var argv []string
		if err := json.Unmarshal([]byte(arg), &argv); err != nil {
			return fmt.Errorf("not a JSON array of strings: %w", err)
		}
		*dst = argv
		return nil
	}
	*dst = []string{"/bin/sh", "-c", arg}
	return nil
}

// keyValues parses KEY=VALUE pairs (values may be quoted) or the old
// "KEY VALUE" form.
func keyValues(arg string, set func(k, v string)) error {
	words, err := splitWords(arg)
	if err != nil {
		return err
	}
	if len(words) == 0 {
		return fmt.Errorf("no KEY=VALUE")
	}
	if !strings.Contains(words[0], "=") {
		key, rest, _ := strings.Cut(arg, " ")
		set(key, strings.TrimSpace(rest))
		return nil
	}
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if !ok || k == "" {
			return fmt.Errorf("%q is not KEY=VALUE", w)
		}
		set(k, v)
	}
	return nil
}

// splitWords splits on blanks outside quotes and removes the quotes.
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated quote")
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

func setEnv(env []string, k, v string) []string {
	for i, e := range env {
		if name, _, _ := strings.Cut(e, "="); name == k {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}

// workdir resolves a relative WORKDIR against the current one.
func workdir(cur, arg string) string {
	if path.IsAbs(arg) {
		return path.Clean(arg)
	}
	if cur == "" {
		cur = "/"
	}
	return path.Join(cur, arg)
}

func expose(cfg *imgspecv1.ImageConfig, arg string) error {
	for _, p := range strings.Fields(arg) {
		port, proto, _ := strings.Cut(p, "/")
		if proto == "" {
			proto = "tcp"
		}
		if port == "" || strings.Trim(port, "0123456789-") != "" || (proto != "tcp" && proto != "udp" && proto != "sctp") {
			return fmt.Errorf("%q is not PORT[/PROTOCOL]", p)
		}
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = map[string]struct{}{}
		}
		cfg.ExposedPorts[port+"/"+proto] = struct{}{}
	}
	return nil
}

func volumes(cfg *imgspecv1.ImageConfig, arg string) error {
	var paths []string
	if strings.HasPrefix(arg, "[") {
		if err := json.Unmarshal([]byte(arg), &paths); err != nil {
			return fmt.Errorf("not a JSON array of strings: %w", err)
		}
	} else {
		paths = strings.Fields(arg)
	}
	for _, p := range paths {
		if cfg.Volumes == nil {
			cfg.Volumes = map[string]struct{}{}
		}
		cfg.Volumes[p] = struct{}{}
	}
	return nil
}
