//go:build !lean

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
	"go.podman.io/image/v5/pkg/sysregistriesv2"
	"go.podman.io/image/v5/types"
	"golang.org/x/term"

	"github.com/crun-lite/crun-lite/store/registry"
)

func loginCommand() *cli.Command {
	return &cli.Command{
		Name:      "login",
		Usage:     "log in to a registry",
		ArgsUsage: "[REGISTRY]",
		Description: `Checks a user name and password with REGISTRY (host[:port], or host/namespace
for credentials that apply to that namespace only; default: the first
unqualified-search registry of registries.conf) and stores them where pull
and run find them, as Podman does: --authfile, else $REGISTRY_AUTH_FILE, else
$XDG_RUNTIME_DIR/containers/auth.json. Asks for what is missing on the
terminal; scripts pass the password on stdin with --password-stdin.

Examples:
   crun-lite login -u alice registry.example
   echo "$TOKEN" | crun-lite login -u bot --password-stdin --tls-verify=false 127.0.0.1:5000`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "username", Aliases: []string{"u"}, Usage: "log in as `USER`", Category: catCredentials},
			&cli.StringFlag{Name: "password", Aliases: []string{"p"}, Usage: "use `PASSWORD` (visible to other users in ps: prefer --password-stdin)", Category: catCredentials},
			&cli.BoolFlag{Name: "password-stdin", Usage: "read the password from stdin", Category: catCredentials},
			&cli.StringFlag{Name: "authfile", Usage: "store credentials in `FILE`", Category: catCredentials},
			&cli.BoolFlag{Name: "get-login", Usage: "print the user name stored for REGISTRY, and do nothing else", Category: catCredentials},
			tlsVerifyFlag(catRegistry),
		},
		Action: func(c *cli.Context) error {
			reg, err := registryArg(c)
			if err != nil {
				return err
			}
			if c.Bool("get-login") {
				user, err := registry.LoggedInAs(reg, c.String("authfile"))
				if err != nil {
					return err
				}
				if user == "" {
					return fmt.Errorf("%w to %s", registry.ErrNotLoggedIn, reg)
				}
				fmt.Fprintln(c.App.Writer, user)
				return nil
			}
			o, err := loginOptions(c, reg)
			if err != nil {
				return err
			}
			if _, err := registry.Login(context.Background(), o); err != nil {
				return err
			}
			fmt.Fprintln(c.App.Writer, "Login Succeeded!")
			return nil
		},
	}
}

// registryArg is the REGISTRY argument, or the first search registry.
func registryArg(c *cli.Context) (string, error) {
	if c.NArg() > 1 {
		return "", errors.New("give at most one REGISTRY")
	}
	if c.NArg() == 1 {
		return c.Args().First(), nil
	}
	regs, err := sysregistriesv2.UnqualifiedSearchRegistries(&types.SystemContext{})
	if err != nil || len(regs) == 0 {
		return "", errors.New("no REGISTRY given, and registries.conf lists no unqualified-search registry")
	}
	return regs[0], nil
}

// loginOptions gathers the credentials from flags, stdin or the terminal.
func loginOptions(c *cli.Context, reg string) (registry.LoginOptions, error) {
	o := registry.LoginOptions{
		Registry:  reg,
		Username:  c.String("username"),
		Password:  c.String("password"),
		AuthFile:  c.String("authfile"),
		TLSVerify: tlsVerify(c),
	}
	if c.Bool("password-stdin") {
		if o.Password != "" {
			return o, errors.New("--password and --password-stdin exclude each other")
		}
		if o.Username == "" {
			return o, errors.New("--password-stdin needs --username")
		}
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return o, fmt.Errorf("read password from stdin: %w", err)
		}
		o.Password = strings.TrimRight(line, "\r\n")
	}
	return promptCredentials(c, o)
}

// promptCredentials asks on the terminal for a missing user or password.
func promptCredentials(c *cli.Context, o registry.LoginOptions) (registry.LoginOptions, error) {
	if o.Username != "" && o.Password != "" {
		return o, nil
	}
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return o, errors.New("login needs --username and --password-stdin (or --password) when stdin is not a terminal")
	}
	in := bufio.NewReader(os.Stdin)
	if o.Username == "" {
		fmt.Fprint(c.App.ErrWriter, "Username: ")
		line, _ := in.ReadString('\n')
		o.Username = strings.TrimSpace(line)
	}
	if o.Password == "" {
		fmt.Fprint(c.App.ErrWriter, "Password: ")
		pw, err := term.ReadPassword(fd)
		fmt.Fprintln(c.App.ErrWriter)
		if err != nil {
			return o, fmt.Errorf("read password: %w", err)
		}
		o.Password = string(pw)
	}
	if o.Username == "" || o.Password == "" {
		return o, errors.New("login needs a user name and a password")
	}
	return o, nil
}

func logoutCommand() *cli.Command {
	return &cli.Command{
		Name:      "logout",
		Usage:     "remove the stored credentials of a registry",
		ArgsUsage: "[REGISTRY]",
		Description: `Removes the credentials stored for REGISTRY (default: the first
unqualified-search registry) from the auth file crun-lite login writes, or,
with --all, every stored credential.

Examples:
   crun-lite logout registry.example
   crun-lite logout --all`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "remove the credentials of every registry", Category: catSelection},
			&cli.StringFlag{Name: "authfile", Usage: "remove credentials from `FILE`", Category: catCredentials},
		},
		Action: func(c *cli.Context) error {
			if c.Bool("all") {
				if err := registry.Logout("", c.String("authfile")); err != nil {
					return err
				}
				fmt.Fprintln(c.App.Writer, "Removed login credentials for all registries")
				return nil
			}
			reg, err := registryArg(c)
			if err != nil {
				return err
			}
			if err := registry.Logout(reg, c.String("authfile")); err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "Removed login credentials for %s\n", reg)
			return nil
		},
	}
}
