//go:build !lean

package main

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/crun-lite/crun-lite/run"
	"github.com/crun-lite/crun-lite/run/network"
)

func networkCommand() *cli.Command {
	dir := func(e *env) string { return network.ConfigDir(e.store.GraphRoot()) }
	return &cli.Command{
		Name:  "network",
		Usage: "manage user networks: containers on one reach each other by name",
		Description: `A user network is a bridge of its own on the user's network hub: its
containers reach each other by their names (each one's /etc/hosts lists the
others, kept up to date as they come and go) and the world as the default
network's do, and are published with -p the same way. The default network,
which run uses without --network, is listed as podman.

Examples:
   crun-lite network create dev
   crun-lite run -d --name db --network dev IMAGE ...
   crun-lite run --rm --network dev IMAGE ping -c1 db`,
		Subcommands: []*cli.Command{
			{
				Name: "create", Usage: "create a user network", ArgsUsage: "NAME",
				Description: `Creates the network NAME (a free 10.89.N.0/24 unless --subnet) and prints
its name.

Examples:
   crun-lite network create dev
   crun-lite network create --subnet 10.90.0.0/24 lab`,
				Flags: []cli.Flag{&cli.StringFlag{Name: "subnet", Usage: "the network's `CIDR`"}},
				Action: withStore(func(c *cli.Context, e *env) error {
					if c.NArg() != 1 {
						return errors.New("network create needs a NAME")
					}
					cfg, err := network.Create(dir(e), c.Args().First(), c.String("subnet"))
					if err != nil {
						return err
					}
					fmt.Fprintln(c.App.Writer, cfg.Name)
					return nil
				}),
			},
			{
				Name: "ls", Aliases: []string{"list"}, Usage: "list networks",
				Description: `Lists the default network (podman) and the user networks.

Examples:
   crun-lite network ls
   crun-lite network ls -q`,
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only names", Category: catOutput},
					&cli.BoolFlag{Name: "noheading", Aliases: []string{"n"}, Usage: "leave out the table's header", Category: catOutput},
					&cli.StringFlag{Name: "format", Usage: "output `FORMAT`: table, json or a Go template such as '{{.Name}} {{.Driver}}'", Category: catOutput},
				},
				Action: withStore(func(c *cli.Context, e *env) error {
					all, err := allNetworks(dir(e))
					if err != nil {
						return err
					}
					f, err := parseFormat(c.String("format"), networkFormats)
					if err != nil {
						return err
					}
					f.noHeading = c.Bool("noheading")
					return printRows(c.App.Writer, f, all, all, func(w io.Writer) error {
						if c.Bool("quiet") {
							for _, n := range all {
								fmt.Fprintln(w, n.Name)
							}
							return nil
						}
						tw := newTable(w)
						if !f.noHeading {
							fmt.Fprintln(tw, "NETWORK ID\tNAME\tDRIVER")
						}
						for _, n := range all {
							fmt.Fprintf(tw, "%s\t%s\t%s\n", n.ID[:12], n.Name, n.Driver)
						}
						return tw.Flush()
					})
				}),
			},
			{
				Name: "inspect", Usage: "show networks as JSON", ArgsUsage: "NAME...",
				Description: `Prints each network NAME (or ID prefix) as JSON: its name, ID, driver,
subnet, gateway and creation time.

Examples:
   crun-lite network inspect dev
   crun-lite network inspect dev | jq -r '.[0].subnet'`,
				Action: withStore(func(c *cli.Context, e *env) error {
					if c.NArg() == 0 {
						return errors.New("network inspect needs a NAME")
					}
					var out []podmanNetwork
					for _, n := range c.Args().Slice() {
						if n == network.DefaultName {
							out = append(out, defaultNetwork())
							continue
						}
						cfg, err := network.Get(dir(e), n)
						if err != nil {
							return &run.ExitError{Code: 125, Err: err}
						}
						out = append(out, asPodman(cfg))
					}
					f, _ := parseFormat("json", networkFormats)
					return f.print(c.App.Writer, out, nil)
				}),
			},
			{
				Name: "rm", Aliases: []string{"remove"}, Usage: "remove user networks", ArgsUsage: "NAME...",
				Description: `Removes each network NAME and prints its name. A network that a running
container uses is refused unless --force, which removes those containers
first.

Examples:
   crun-lite network rm dev`,
				Flags: []cli.Flag{&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "remove the containers that use it first", Category: catSafety}},
				Action: withStore(func(c *cli.Context, e *env) error {
					if c.NArg() == 0 {
						return errors.New("network rm needs a NAME")
					}
					for _, n := range c.Args().Slice() {
						cfg, err := network.Get(dir(e), n)
						if err != nil {
							return &run.ExitError{Code: 1, Err: err} // Podman's code for a missing one
						}
						users, err := run.NetworkUsers(e.store, cfg.Name)
						if err != nil {
							return err
						}
						if len(users) > 0 && !c.Bool("force") {
							return fmt.Errorf("network %s is used by %d container(s): remove them first, or use -f", cfg.Name, len(users))
						}
						for _, in := range users {
							if err := run.Remove(e.store, in, true); err != nil {
								return err
							}
						}
						if err := network.Remove(dir(e), cfg); err != nil {
							return err
						}
						fmt.Fprintln(c.App.Writer, cfg.Name)
					}
					return nil
				}),
			},
		},
	}
}

// podmanNetwork is a network as Podman's network inspect and ls --format
// json print it.
type podmanNetwork struct {
	Name             string            `json:"name"`
	ID               string            `json:"id"`
	Driver           string            `json:"driver"`
	NetworkInterface string            `json:"network_interface"`
	Created          time.Time         `json:"created"`
	Subnets          []podmanSubnet    `json:"subnets"`
	IPv6Enabled      bool              `json:"ipv6_enabled"`
	Internal         bool              `json:"internal"`
	DNSEnabled       bool              `json:"dns_enabled"` // names go through /etc/hosts
	IPAMOptions      map[string]string `json:"ipam_options"`
}

type podmanSubnet struct {
	Subnet  string `json:"subnet"`
	Gateway string `json:"gateway"`
}

func asPodman(c *network.Config) podmanNetwork {
	return podmanNetwork{Name: c.Name, ID: c.ID, Driver: c.Driver, NetworkInterface: "crl" + c.ID[:8], Created: c.Created,
		Subnets: []podmanSubnet{{Subnet: c.Subnet, Gateway: c.Gateway}}, IPAMOptions: map[string]string{"driver": "host-local"}}
}

// defaultNetwork is the hub's default network, under Podman's name and ID.
func defaultNetwork() podmanNetwork {
	return podmanNetwork{Name: network.DefaultName, ID: "2f259bab93aaaaa2542ba43ef33eb990d0999ee1b9924b557b7be53c0b7a1bb9", Driver: "bridge",
		NetworkInterface: "crl0", Subnets: []podmanSubnet{{Subnet: "10.88.0.0/16", Gateway: "10.88.0.1"}}, IPAMOptions: map[string]string{"driver": "host-local"}}
}

// allNetworks: the default one and the store's, by name, as Podman lists.
func allNetworks(dir string) ([]podmanNetwork, error) {
	nets, err := network.List(dir)
	if err != nil {
		return nil, err
	}
	all := []podmanNetwork{defaultNetwork()}
	for _, n := range nets {
		all = append(all, asPodman(n))
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	return all, nil
}

// networkFormats: network ls takes templates over each network, with
// Podman's column names in a table; any other value but json prints the
// table.
var networkFormats = formats{text: "table", templates: bracedTemplates, headers: map[string]string{"ID": "NETWORK ID"}}
