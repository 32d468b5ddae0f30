// Command yamlset edits keys of a YAML file in place, keeping its comments:
//
//	yamlset FILE key.path=VALUE ...
//
// VALUE is a YAML value ("8008", "true", "[1, 2]", "{a: b}", "text"). The demo uses it to adjust
// the bridge config generated with -e.
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/msnbridge/msnbridge/e2e/yamledit"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "yamlset:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) < 2 {
		return fmt.Errorf("usage: yamlset FILE key.path=VALUE ...")
	}
	d, err := yamledit.Read(args[0])
	if err != nil {
		return err
	}
	for _, a := range args[1:] {
		key, val, ok := strings.Cut(a, "=")
		if !ok {
			return fmt.Errorf("%q is not key=value", a)
		}
		if err := d.SetYAML(key, val); err != nil {
			return err
		}
	}
	return d.Write(args[0])
}
