// Command withsense is the project's command-line tool: it sets up the data and the
// models, builds photo indexes and searches them. `withsense help` lists the commands.
package main

import (
	"flag"
	"fmt"
	"github.com/withsense/withsense/lib/project"
	"os"
	"sort"
	"strings"
)

// command is one subcommand: its one-line summary, usage and function.
type command struct {
	summary, usage string
	run            func(args []string) error
}

var commands = map[string]command{}

func main() {
	if len(os.Args) < 2 || os.Args[1] == "help" || os.Args[1] == "-h" || os.Args[1] == "--help" {
		usage()
		return
	}
	name := os.Args[1]
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "withsense: unknown command %q\n\n", name)
		usage()
		os.Exit(2)
	}
	// Every command works on the project's checkout: without one, say where it looked (and
	// how to point at it) instead of failing deep inside with a stack trace.
	if _, err := project.Root(); err != nil {
		fmt.Fprintf(os.Stderr, "withsense %s: %v\n", name, err)
		os.Exit(1)
	}
	if err := cmd.run(os.Args[2:]); err != nil {
		if err == flag.ErrHelp {
			return
		}
		fmt.Fprintf(os.Stderr, "withsense %s: %v\n", name, err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "withsense: text-to-photo search («With Sense»)\n\nUsage: withsense COMMAND [flags]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-12s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(os.Stderr, "\nRun `withsense COMMAND -h` for a command's flags.")
}

// flags returns a FlagSet whose usage prints the command's usage line and flags.
func flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		c := commands[name]
		fmt.Fprintf(fs.Output(), "Usage: withsense %s\n\n%s\n", c.usage, strings.TrimSpace(c.summary))
		fs.PrintDefaults()
	}
	return fs
}
