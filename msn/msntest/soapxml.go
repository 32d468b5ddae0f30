package msntest

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// xnode is a parsed XML element (namespaces reduced to local names).
type xnode struct {
	name     string
	attrs    map[string]string
	children []*xnode
	text     strings.Builder
}

const maxXMLDepth = 64

// parseXML parses a document into a tree; it fails on malformed or too deep input.
func parseXML(data []byte) (*xnode, error) {
	d := xml.NewDecoder(strings.NewReader(string(data)))
	d.Strict = false
	root := &xnode{name: "#root"}
	stack := []*xnode{root}
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("parse XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) > maxXMLDepth {
				return nil, errors.New("parse XML: too deep")
			}
			n := &xnode{name: t.Name.Local, attrs: map[string]string{}}
			for _, a := range t.Attr {
				n.attrs[a.Name.Local] = a.Value
			}
			top := stack[len(stack)-1]
			top.children = append(top.children, n)
			stack = append(stack, n)
		case xml.EndElement:
			if len(stack) > 1 {
				stack = stack[:len(stack)-1]
			}
		case xml.CharData:
			stack[len(stack)-1].text.Write(t)
		}
	}
	if len(stack) != 1 {
		return nil, errors.New("parse XML: unclosed elements")
	}
	return root, nil
}

// find returns the first descendant named name (depth first), or nil.
func (n *xnode) find(name string) *xnode {
	if n == nil {
		return nil
	}
	for _, c := range n.children {
		if c.name == name {
			return c
		}
		if f := c.find(name); f != nil {
			return f
		}
	}
	return nil
}

// findAll returns every descendant named name.
func (n *xnode) findAll(name string) []*xnode {
	if n == nil {
		return nil
	}
	var out []*xnode
	for _, c := range n.children {
		if c.name == name {
			out = append(out, c)
		}
		out = append(out, c.findAll(name)...)
	}
	return out
}

// str returns the trimmed text of the first descendant named name.
func (n *xnode) str(name string) string {
	if f := n.find(name); f != nil {
		return strings.TrimSpace(f.text.String())
	}
	return ""
}
