package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"time"

	"github.com/raftgram/raftgram/node"
)

// cmdCodes prints the login codes waiting to be used, for an operator who hands them out by hand (an air-gapped
// site without an SMS gateway). It asks a node's admin HTTP endpoint /codes, which only listens where the
// operator configured the admin address (127.0.0.1 by default).
func cmdCodes(args []string) error {
	c := newFlags("codes")
	dir := c.fs.String("data-dir", "data", "data directory of a member (for its admin address)")
	admin := c.fs.String("admin", "", "admin HTTP address of a member (default: the data dir's)")
	asJSON := c.fs.Bool("json", false, "print JSON")
	if _, err := c.parse(args); err != nil {
		return err
	}
	if *admin == "" {
		dd, err := node.OpenDataDir(*dir)
		if err != nil {
			return err
		}
		*admin = dd.File.Admin
	}
	if *admin == "" {
		return fmt.Errorf("no admin address: pass --admin")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+*admin+"/codes", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s/codes: %s: %s", *admin, resp.Status, body)
	}
	if *asJSON {
		_, err := os.Stdout.Write(body)
		return err
	}
	var codes []map[string]any
	if err := json.Unmarshal(body, &codes); err != nil {
		return fmt.Errorf("%s/codes: %w", *admin, err)
	}
	if len(codes) == 0 {
		fmt.Println("no login codes waiting")
		return nil
	}
	sort.Slice(codes, func(i, j int) bool { return fmt.Sprint(codes[i]["phone"]) < fmt.Sprint(codes[j]["phone"]) })
	fmt.Printf("%-18s %-8s %s\n", "PHONE", "CODE", "EXPIRES")
	for _, m := range codes {
		fmt.Printf("%-18v %-8v %v\n", m["phone"], m["code"], m["expires"])
	}
	return nil
}
