package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/proxbox/proxbox/lab"
)

// TestLabCommand runs `proxbox lab` as a user would: it prints one JSON line
// with URLs and credentials and serves the simulators until stopped.
func TestLabCommand(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"lab", "--pve-listen", "127.0.0.1:0", "--netbox-listen", "127.0.0.1:0", "--pve-fixtures", sharedFixture, "--netbox-latency", "1ms"}, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadBytes('\n')
	if err != nil {
		t.Fatal(err)
	}
	var info lab.Info
	if err := json.Unmarshal(line, &info); err != nil || len(info.PVE) != 1 || info.NetBox == nil {
		t.Fatalf("first line: %s (%v)", line, err)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // the lab's self-signed node
	get := func(url, auth string) (int, []byte) {
		req, _ := http.NewRequest("GET", url, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	p := info.PVE[0]
	if code, _ := get(p.URL+"/api2/json/cluster/resources", ""); code != 401 {
		t.Fatalf("PVE without token: %d", code)
	}
	code, b := get(p.URL+"/api2/json/cluster/resources", "PVEAPIToken="+p.TokenID+"="+p.TokenSecret)
	var res struct{ Data []map[string]any }
	if json.Unmarshal(b, &res); code != 200 || len(res.Data) != 13 {
		t.Fatalf("PVE resources: %d, %d records", code, len(res.Data))
	}
	if code, _ := get(info.NetBox.URL+"/api/status/", "Token "+info.NetBox.Token+"0"); code != 403 {
		t.Fatalf("NetBox with a bad token: %d", code)
	}
	if code, b := get(info.NetBox.URL+"/api/status/", "Token "+info.NetBox.Token); code != 200 || !bytes.Contains(b, []byte("netbox-version")) {
		t.Fatalf("NetBox status: %d %s", code, b)
	}
	cancel()
	if c := <-done; c != 0 {
		t.Fatalf("lab exit %d", c)
	}
}

func TestLabFlagValidation(t *testing.T) {
	var out bytes.Buffer
	for _, args := range [][]string{
		{"lab", "--netbox-error-rate", "2"},
		{"lab", "--netbox-latency", "soon"},
		{"lab", "--pve-token", "no-separator"},
		{"lab", "--pve-listen", "", "--netbox-listen", ""},
	} {
		if code := run(context.Background(), args, &out, &out); code != 1 {
			t.Errorf("%v: exit %d\n%s", args, code, out.String())
		}
	}
}
