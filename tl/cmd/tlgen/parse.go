package main

import (
	"bufio"
	"bytes"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
)

// Combinator is one schema line with an explicit id: a constructor or a function.
type Combinator struct {
	Name     string // TL name, e.g. "messages.sendMessage"
	ID       uint32
	Params   []Param
	Generic  []string // type variables ({X:Type})
	Result   string   // result type as written, e.g. "Updates", "Vector<User>", "X"
	Function bool
	Line     int
	Text     string // the line as written (for the CRC check)
}

// Param is one field of a combinator.
type Param struct {
	Name     string
	Type     string // as written without the condition: "int", "Vector<InputUser>", "#", "!X", "true"
	FlagWord string // name of the flags word for a conditional field, "" otherwise
	Bit      int    // bit number for a conditional field, -1 otherwise
}

// Optional reports whether the field is conditional on a flags bit.
func (p Param) Optional() bool { return p.FlagWord != "" }

// IsFlags reports whether the field is a flags word (name:#).
func (p Param) IsFlags() bool { return p.Type == "#" }

// IsTrue reports whether the field is a bit-only flag (flags.N?true).
func (p Param) IsTrue() bool { return p.Optional() && p.Type == "true" }

// Schema is a parsed TL file.
type Schema struct {
	Layer     int
	Types     []*Combinator // constructors in file order
	Functions []*Combinator // methods in file order
}

// builtin names whose schema lines describe the wire format itself and are not generated.
var skipNames = map[string]bool{
	"int": true, "long": true, "double": true, "string": true, "bytes": true, "vector": true,
	"int128": true, "int256": true,
}

// Parse reads a TL schema. Lines without an explicit #id are skipped (core types, tdesktop-internal lines),
// as are comment lines: callers add the few "parsed manually" combinators themselves.
func Parse(src []byte) (*Schema, error) {
	s := &Schema{}
	fn := false
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for ln := 1; sc.Scan(); ln++ {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "// LAYER ") {
			if n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "// LAYER "))); err == nil {
				s.Layer = n
			}
		}
		if i := strings.Index(line, "//"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		switch line {
		case "":
			continue
		case "---functions---":
			fn = true
			continue
		case "---types---":
			fn = false
			continue
		}
		c, err := parseLine(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", ln, err)
		}
		if c == nil {
			continue
		}
		c.Line = ln
		c.Function = fn
		if fn {
			s.Functions = append(s.Functions, c)
		} else {
			s.Types = append(s.Types, c)
		}
	}
	return s, sc.Err()
}

func parseLine(line string) (*Combinator, error) {
	if !strings.HasSuffix(line, ";") {
		return nil, fmt.Errorf("missing ';': %q", line)
	}
	body := strings.TrimSpace(strings.TrimSuffix(line, ";"))
	eq := strings.LastIndex(body, "=")
	if eq < 0 {
		return nil, fmt.Errorf("missing '=': %q", line)
	}
	lhs, rhs := strings.Fields(body[:eq]), strings.TrimSpace(body[eq+1:])
	if len(lhs) == 0 || rhs == "" {
		return nil, fmt.Errorf("malformed: %q", line)
	}
	name, idText, ok := strings.Cut(lhs[0], "#")
	if !ok || skipNames[name] || strings.Contains(body, "?  ") || strings.Contains(body, "[") {
		return nil, nil // no id, or a core type line
	}
	id, err := strconv.ParseUint(idText, 16, 32)
	if err != nil {
		return nil, fmt.Errorf("bad id %q: %w", idText, err)
	}
	c := &Combinator{Name: name, ID: uint32(id), Result: rhs, Text: line}
	for _, tok := range lhs[1:] {
		if strings.HasPrefix(tok, "{") {
			v, _, _ := strings.Cut(strings.Trim(tok, "{}"), ":")
			c.Generic = append(c.Generic, v)
			continue
		}
		if tok == "?" {
			return nil, nil // "int ? = Int"
		}
		pn, pt, ok := strings.Cut(tok, ":")
		if !ok {
			return nil, fmt.Errorf("bad param %q in %q", tok, line)
		}
		p := Param{Name: pn, Type: pt, Bit: -1}
		if cond, typ, ok := strings.Cut(pt, "?"); ok {
			w, b, ok := strings.Cut(cond, ".")
			if !ok {
				return nil, fmt.Errorf("bad condition %q", tok)
			}
			bit, err := strconv.Atoi(b)
			if err != nil || bit < 0 || bit > 31 {
				return nil, fmt.Errorf("bad flag bit %q", tok)
			}
			p.FlagWord, p.Bit, p.Type = w, bit, typ
		}
		c.Params = append(c.Params, p)
	}
	return c, nil
}

// CRC returns the id the TL spec derives from the combinator's text: CRC32 (IEEE) of the line without the
// id and ';', without bit-only true fields, without the braces of {X:Type}, with '<' as a space and no '>'.
// bytesAsString retries with the bytes alias written as string (how Telegram computed many ids).
func (c *Combinator) CRC(bytesAsString bool) uint32 {
	var parts []string
	lhs := c.Text[:strings.LastIndex(c.Text, "=")]
	for i, tok := range strings.Fields(lhs) {
		if i == 0 {
			tok, _, _ = strings.Cut(tok, "#")
		} else if strings.HasSuffix(tok, "?true") {
			continue
		}
		parts = append(parts, tok)
	}
	s := strings.Join(parts, " ") + " = " + strings.TrimSpace(strings.TrimSuffix(c.Text[strings.LastIndex(c.Text, "=")+1:], ";"))
	s = strings.NewReplacer("{", "", "}", "", "<", " ", ">", "").Replace(s)
	if bytesAsString {
		f := strings.Fields(s)
		for i, w := range f {
			if strings.HasSuffix(w, ":bytes") {
				f[i] = strings.TrimSuffix(w, "bytes") + "string"
			}
			f[i] = strings.ReplaceAll(f[i], "?bytes", "?string")
			if w == "bytes" {
				f[i] = "string"
			}
		}
		s = strings.Join(f, " ")
	}
	return crc32.ChecksumIEEE([]byte(s))
}
