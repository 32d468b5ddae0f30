// Package yamledit edits YAML documents in place, keeping comments and key order: enough to
// adjust a generated bridge config for tests and the demo without rewriting it.
package yamledit

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// Doc is a YAML document whose top level is a mapping.
type Doc struct{ root yaml.Node }

// Parse parses a YAML document.
func Parse(data []byte) (*Doc, error) {
	d := &Doc{}
	if err := yaml.Unmarshal(data, &d.root); err != nil {
		return nil, err
	}
	if d.root.Kind != yaml.DocumentNode || len(d.root.Content) != 1 || d.root.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("not a YAML mapping")
	}
	return d, nil
}

// Read parses the YAML file at path.
func Read(path string) (*Doc, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	d, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	return d, nil
}

// Bytes encodes the document.
func (d *Doc) Bytes() ([]byte, error) { return yaml.Marshal(&d.root) }

// Write writes the document to path with mode 0600 (configs hold secrets).
func (d *Doc) Write(path string) error {
	b, err := d.Bytes()
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

// Set replaces (or adds) the value at the dotted key path, creating mappings on the way.
func (d *Doc) Set(path string, value any) error {
	var val yaml.Node
	if err := val.Encode(value); err != nil {
		return fmt.Errorf("encoding %s: %w", path, err)
	}
	return d.SetNode(path, &val)
}

// SetYAML sets the value at path to a YAML fragment, e.g. "[1, 2]" or "{a: b}".
func (d *Doc) SetYAML(path, fragment string) error {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(fragment), &n); err != nil {
		return fmt.Errorf("value of %s: %w", path, err)
	}
	if n.Kind != yaml.DocumentNode || len(n.Content) != 1 {
		return fmt.Errorf("value of %s: not one YAML value", path)
	}
	return d.SetNode(path, n.Content[0])
}

// SetNode sets the value at path to a node.
func (d *Doc) SetNode(path string, val *yaml.Node) error {
	keys := strings.Split(path, ".")
	node := d.root.Content[0]
	for i, key := range keys {
		if key == "" {
			return fmt.Errorf("bad key path %q", path)
		}
		if node.Kind != yaml.MappingNode {
			return fmt.Errorf("%s: %s is not a mapping", path, strings.Join(keys[:i], "."))
		}
		var next *yaml.Node
		for j := 0; j+1 < len(node.Content); j += 2 {
			if node.Content[j].Value == key {
				if i == len(keys)-1 {
					// Keep the comments attached to the old value.
					old := node.Content[j+1]
					val.HeadComment, val.LineComment, val.FootComment = old.HeadComment, old.LineComment, old.FootComment
					node.Content[j+1] = val
					return nil
				}
				next = node.Content[j+1]
				break
			}
		}
		if next == nil {
			k := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}
			if i == len(keys)-1 {
				node.Content = append(node.Content, k, val)
				return nil
			}
			next = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			node.Content = append(node.Content, k, next)
		}
		node = next
	}
	return nil
}

// Get returns the scalar value at the dotted key path.
func (d *Doc) Get(path string) (string, bool) {
	node := d.root.Content[0]
	for _, key := range strings.Split(path, ".") {
		if node.Kind != yaml.MappingNode {
			return "", false
		}
		var next *yaml.Node
		for j := 0; j+1 < len(node.Content); j += 2 {
			if node.Content[j].Value == key {
				next = node.Content[j+1]
				break
			}
		}
		if next == nil {
			return "", false
		}
		node = next
	}
	if node.Kind != yaml.ScalarNode {
		return "", false
	}
	return node.Value, true
}
