package hub

import (
	"os"
	"path/filepath"
	"sort"

	"github.com/BurntSushi/toml"
)

// helperConf is what containers.conf says of the network helper:
// [network] default_rootless_network_cmd ("pasta" or "slirp4netns") and
// network_cmd_options, honoured as Podman does for its rootless default.
type helperConf struct {
	Cmd     string
	Options []string
}

// readHelperConf reads containers.conf where Podman looks, later files
// overriding earlier ones; $CONTAINERS_CONF alone when set.
func readHelperConf() helperConf {
	var files []string
	if f := os.Getenv("CONTAINERS_CONF"); f != "" {
		files = []string{f}
	} else {
		files = append(files, confFiles("/usr/share/containers")...)
		files = append(files, confFiles("/etc/containers")...)
		cfg := os.Getenv("XDG_CONFIG_HOME")
		if cfg == "" {
			if home := os.Getenv("HOME"); home != "" {
				cfg = filepath.Join(home, ".config")
			}
		}
		if cfg != "" {
			files = append(files, confFiles(filepath.Join(cfg, "containers"))...)
		}
	}
	var hc helperConf
	for _, f := range files {
		var c struct {
			Network struct {
				Cmd     *string   `toml:"default_rootless_network_cmd"`
				Options *[]string `toml:"network_cmd_options"`
			} `toml:"network"`
		}
		if _, err := toml.DecodeFile(f, &c); err != nil {
			continue
		}
		if c.Network.Cmd != nil {
			hc.Cmd = *c.Network.Cmd
		}
		if c.Network.Options != nil {
			hc.Options = *c.Network.Options
		}
	}
	return hc
}

// confFiles: dir/containers.conf, then dir/containers.conf.d/*.conf.
func confFiles(dir string) []string {
	out := []string{filepath.Join(dir, "containers.conf")}
	drop, _ := filepath.Glob(filepath.Join(dir, "containers.conf.d", "*.conf"))
	sort.Strings(drop)
	return append(out, drop...)
}
