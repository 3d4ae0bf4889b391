package proxmox

import (
	"context"
	"testing"

	"github.com/proxbox/proxbox/inventory"
	"github.com/proxbox/proxbox/lab/pve"
)

func TestReadExtrasSharedFixture(t *testing.T) {
	srv, err := pve.New(pve.Options{FixturesFile: sharedFixture})
	if err != nil {
		t.Fatal(err)
	}
	c := mustNew(t, tokenConfig(serveHTTP(t, srv)))
	opts := FullReadOptions()
	opts.TaskDays = 100000 // the fixture's tasks are from January 2026
	snap, err := c.Read(context.Background(), inventory.Endpoint{ID: 1, Name: "e2e"}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !snap.Complete() {
		t.Fatalf("errors: %+v", snap.Errors)
	}
	want := inventory.Parts{Storage: true, Backups: true, Snapshots: true, Replications: true, BackupJobs: true, Tasks: true}
	if snap.Read != want {
		t.Errorf("parts %+v, warnings %+v", snap.Read, snap.Warnings)
	}
	if len(snap.Storage) != 4 || len(snap.Backups) != 17 || len(snap.Snapshots) != 11 || len(snap.Replications) != 2 || len(snap.BackupJobs) != 2 {
		t.Errorf("storage %d backups %d snapshots %d replications %d jobs %d", len(snap.Storage), len(snap.Backups), len(snap.Snapshots), len(snap.Replications), len(snap.BackupJobs))
	}
	if len(snap.Tasks) != 10 {
		t.Errorf("tasks %d, want 10", len(snap.Tasks))
	}
	for _, b := range snap.Backups {
		if b.VMID == 0 || b.GuestType == "" || b.Created.IsZero() || b.Created.Location().String() != "UTC" {
			t.Errorf("backup %+v", b)
		}
	}
	st := srv.Stats()
	if n := st.Requests["GET /nodes/{node}/storage/{storage}/content"]; n != 6 {
		t.Errorf("content reads %d, want 6 (2 backup storages on 3 nodes)", n)
	}

	// Off, the extras cost nothing.
	srv.ResetStats()
	if _, err := c.Read(context.Background(), inventory.Endpoint{ID: 1, Name: "e2e"}, DefaultReadOptions()); err != nil {
		t.Fatal(err)
	}
	for p := range srv.Stats().Requests {
		switch p {
		case "GET /cluster/replication", "GET /cluster/backup", "GET /nodes/{node}/tasks", "GET /nodes/{node}/storage",
			"GET /nodes/{node}/storage/{storage}/content", "GET /nodes/{node}/qemu/{vmid}/snapshot", "GET /nodes/{node}/lxc/{vmid}/snapshot":
			t.Errorf("default read made %s", p)
		}
	}
}

func TestReadExtrasGeneratedLab(t *testing.T) {
	lab := pve.Generate(60, 3)
	for _, cl := range lab.Clusters {
		srv, err := pve.New(pve.Options{Cluster: cl})
		if err != nil {
			t.Fatal(err)
		}
		c := mustNew(t, tokenConfig(serveHTTP(t, srv)))
		snap, err := c.Read(context.Background(), inventory.Endpoint{Name: cl.Name}, FullReadOptions())
		if err != nil {
			t.Fatal(err)
		}
		if !snap.Read.Backups || !snap.Read.Snapshots || !snap.Read.Tasks {
			t.Errorf("%s: parts %+v warnings %+v", cl.Name, snap.Read, snap.Warnings)
		}
		seen := map[string]bool{}
		pbs := 0
		first := snap.Nodes[0].Name
		for _, n := range snap.Nodes {
			first = min(first, n.Name)
		}
		for _, b := range snap.Backups {
			if seen[b.VolID] {
				t.Errorf("%s: backup %s twice", cl.Name, b.VolID)
			}
			seen[b.VolID] = true
			if b.Storage == "pbs" {
				pbs++
				// Every node lists the shared PBS storage with the same bytes (decoded
				// once): the backup is the first node's by name, whichever answered first.
				if b.Node != first {
					t.Errorf("%s: pbs backup %s through node %s, want %s", cl.Name, b.VolID, b.Node, first)
				}
				if BackupFormat(b.Format, b.VolID)[:3] != "pbs" {
					t.Errorf("pbs backup format %q", b.Format)
				}
			}
		}
		for _, s := range snap.Snapshots {
			if s.Name == "current" {
				t.Errorf("%s: current synced", cl.Name)
			}
		}
		if len(snap.Backups) == 0 || pbs == 0 || len(snap.BackupJobs) == 0 {
			t.Errorf("%s: %d backups (%d pbs), %d jobs", cl.Name, len(snap.Backups), pbs, len(snap.BackupJobs))
		}
	}
}
