package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// gitRepo makes a throw-away repository holding release.sh, with one commit.
func gitRepo(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("SKIP: git not found")
	}
	dir := t.TempDir()
	script, err := os.ReadFile("release.sh")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "deploy"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "deploy", "release.sh"), script, 0o755); err != nil {
		t.Fatal(err)
	}
	git(t, dir, "init", "-q")
	git(t, dir, "add", ".")
	git(t, dir, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "one")
	return dir
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func releaseVersion(t *testing.T, dir string) string {
	t.Helper()
	cmd := exec.Command("bash", filepath.Join(dir, "deploy", "release.sh"), "version")
	cmd.Env = append(os.Environ(), "RELEASE_VERSION=", "RELEASE_COMMIT=")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("release.sh version: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// The release version is the semver tag on HEAD; anything else is a dev version naming the commit.
func TestReleaseVersion(t *testing.T) {
	dir := gitRepo(t)
	commit := git(t, dir, "rev-parse", "--short=12", "HEAD")
	dev := "v0.0.0-dev+" + commit
	steps := []struct {
		do   func()
		want string
	}{
		{func() {}, dev},
		{func() { git(t, dir, "tag", "release-5") }, dev},
		{func() { git(t, dir, "tag", "v1.2") }, dev},
		{func() { git(t, dir, "tag", "v1.2.3-rc.1") }, "v1.2.3-rc.1"},
		{func() { git(t, dir, "tag", "v1.2.3") }, "v1.2.3"}, // the release wins over its rc on the same commit
		{func() {
			if err := os.WriteFile(filepath.Join(dir, "deploy", "release.sh"), []byte("#!/bin/sh\n# edited\n"+readFile(t, "release.sh")), 0o755); err != nil {
				t.Fatal(err)
			}
		}, dev + ".dirty"},
	}
	for i, s := range steps {
		s.do()
		if got := releaseVersion(t, dir); got != s.want {
			t.Errorf("step %d: version %q, want %q", i, got, s.want)
		}
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The Dockerfile keeps its promises (there is no Docker engine in CI to build it): a base pinned
// by digest, the release binary copied in (no compiler stage), a numeric non-root user, OCI labels.
func TestDockerfile(t *testing.T) {
	df := readFile(t, "../Dockerfile")
	froms := regexp.MustCompile(`(?m)^FROM\s+(\S+)`).FindAllStringSubmatch(df, -1)
	if len(froms) != 1 || !regexp.MustCompile(`@sha256:[0-9a-f]{64}$`).MatchString(froms[0][1]) {
		t.Errorf("want one FROM pinned by digest, got %v", froms)
	}
	if !regexp.MustCompile(`(?m)^COPY --chmod=0755 dist/proxbox-linux-\$\{TARGETARCH\} /usr/local/bin/proxbox$`).MatchString(df) {
		t.Error("the image does not copy the release binary dist/proxbox-linux-${TARGETARCH}")
	}
	if strings.Contains(df, "go build") {
		t.Error("the Dockerfile compiles: it must carry the release binary")
	}
	if users := regexp.MustCompile(`(?m)^USER\s+(\S+)`).FindAllStringSubmatch(df, -1); len(users) != 1 || users[0][1] != "65532:65532" {
		t.Errorf("USER %v, want 65532:65532", users)
	}
	for _, l := range []string{"title", "description", "source", "version", "revision", "created", "base.digest"} {
		if !strings.Contains(df, "org.opencontainers.image."+l+"=") {
			t.Errorf("OCI label org.opencontainers.image.%s missing", l)
		}
	}
	ignore := readFile(t, "../.dockerignore")
	for _, want := range []string{"!dist/proxbox-linux-amd64", "!dist/proxbox-linux-arm64", "!deploy/container/"} {
		if !strings.Contains(ignore, want) {
			t.Errorf(".dockerignore does not let %s into the build context", want)
		}
	}
}
