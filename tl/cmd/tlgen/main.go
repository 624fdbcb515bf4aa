package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

func main() {
	schemaDir := flag.String("schema", "../../shared/tl", "directory holding mtproto.tl and api-<layer>.tl")
	outDir := flag.String("out", ".", "the tl directory to write mt/, api/ and layers/ into")
	flag.Parse()
	if err := run(*schemaDir, *outDir); err != nil {
		fmt.Fprintln(os.Stderr, "tlgen:", err)
		os.Exit(1)
	}
}

// canonicalLayer and oldLayers are the layers raftgram serves, newest first (the dense layer enum order).
var (
	canonicalLayer = 227
	oldLayers      = []int{223, 198, 170}
)

func run(schemaDir, outDir string) error {
	mtSrc, err := os.ReadFile(filepath.Join(schemaDir, "mtproto.tl"))
	if err != nil {
		return err
	}
	mtSchema, err := Parse(mtSrc)
	if err != nil {
		return fmt.Errorf("mtproto.tl: %w", err)
	}
	binaryStrings(mtSchema)
	mtModel, err := NewModel("mt", mtSchema)
	if err != nil {
		return fmt.Errorf("mtproto.tl: %w", err)
	}
	mtFiles, err := mtModel.Emit(Options{LookupName: "newGenerated", Source: "mtproto.tl", PerFile: 1000})
	if err != nil {
		return err
	}
	if err := writeDir(filepath.Join(outDir, "mt"), mtFiles); err != nil {
		return err
	}

	schemas := map[int]*Schema{}
	for _, l := range append([]int{canonicalLayer}, oldLayers...) {
		src, err := os.ReadFile(filepath.Join(schemaDir, fmt.Sprintf("api-%d.tl", l)))
		if err != nil {
			return err
		}
		s, err := Parse(src)
		if err != nil {
			return fmt.Errorf("api-%d.tl: %w", l, err)
		}
		s.Layer = l
		schemas[l] = s
	}
	apiModel, err := NewModel("api", schemas[canonicalLayer])
	if err != nil {
		return fmt.Errorf("api-%d.tl: %w", canonicalLayer, err)
	}
	ir := BuildIR(schemas, canonicalLayer, oldLayers)
	polSrc, err := os.ReadFile(filepath.Join(outDir, "layers", "policy.txt"))
	if err != nil {
		return err
	}
	pol, err := ParsePolicy(polSrc)
	if err != nil {
		return err
	}
	apiModel.Legacy = ir.Legacy(apiModel, pol)
	apiFiles, err := apiModel.Emit(Options{LookupName: "New", Source: fmt.Sprintf("api-%d.tl", canonicalLayer), PerFile: 300})
	if err != nil {
		return err
	}
	lf, err := ir.EmitLayers(apiModel)
	if err != nil {
		return err
	}
	apiFiles = append(apiFiles, lf)
	pr, err := ir.buildProjection(apiModel, pol)
	if err != nil {
		return err
	}
	pf, err := pr.Emit()
	if err != nil {
		return err
	}
	apiFiles = append(apiFiles, pf)
	if err := writeDir(filepath.Join(outDir, "api"), apiFiles); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(outDir, "layers"), 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(outDir, "layers", "REPORT.md"), ir.Report(apiModel, pr), 0o644)
}

// writeDir replaces the *_gen.go files of dir with files (stale generated files are removed).
func writeDir(dir string, files []File) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	old, err := filepath.Glob(filepath.Join(dir, "*_gen.go"))
	if err != nil {
		return err
	}
	keep := map[string]bool{}
	for _, f := range files {
		keep[f.Name] = true
		if err := os.WriteFile(filepath.Join(dir, f.Name), f.Body, 0o644); err != nil {
			return err
		}
	}
	sort.Strings(old)
	for _, p := range old {
		if !keep[filepath.Base(p)] && strings.HasSuffix(p, "_gen.go") {
			if err := os.Remove(p); err != nil {
				return err
			}
		}
	}
	return nil
}

// textFields are the mtproto.tl string fields that hold text; every other string there carries binary data
// (pq, p, q, encrypted_data, dh_prime, g_a, g_b, info), so it is generated as []byte. The wire form of
// string and bytes is the same.
var textFields = map[string]bool{"error_message": true, "phone_prefix_rules": true}

func binaryStrings(s *Schema) {
	for _, c := range append(append([]*Combinator{}, s.Types...), s.Functions...) {
		for i, p := range c.Params {
			if p.Type == "string" && !textFields[p.Name] {
				c.Params[i].Type = "bytes"
			}
		}
	}
}
