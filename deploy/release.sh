#!/usr/bin/env bash
# make release: static, reproducible proxbox binaries for linux/amd64 and linux/arm64.
# `deploy/release.sh version` only prints the version (make build uses it).
#
# Writes into $DIST (default dist/):
#   proxbox-linux-amd64, proxbox-linux-arm64   static (CGO_ENABLED=0), stripped
#   proxbox-linux-<arch>.sbom.txt              SBOM: `go version -m` (Go version, every module
#                                              linked in with its version and go.sum hash, build flags)
#   SHA256SUMS                                 sha256sum of the four files above
#   VERSION                                    the version stamped in
#
# Version: the tag on HEAD when it is semver (v1.2.3, v1.2.3-rc.1) and the tree is clean; else
# v0.0.0-dev+<commit12> (with .dirty when tracked files changed). RELEASE_VERSION and
# RELEASE_COMMIT override both (for a build outside a git checkout).
#
# Reproducible: -trimpath, -buildvcs=false (the commit is stamped with -X instead, so a dirty or
# absent .git cannot change the bytes), an empty build id, fixed GOAMD64/GOARM64, -mod=readonly.
# The same commit and Go version give the same bytes on any machine and in any directory;
# `make release-check` builds twice in two directories and compares.
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
DIST=${DIST:-dist}
export CGO_ENABLED=0 GOFLAGS=-mod=readonly GOAMD64=v1 GOARM64=v8.0

commit=${RELEASE_COMMIT:-$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)}
if [[ -z ${RELEASE_VERSION:-} ]]; then
  dirty=""
  if git rev-parse --git-dir >/dev/null 2>&1 && ! git diff --quiet HEAD -- 2>/dev/null; then dirty=".dirty"; fi
  semver='^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$'
  tag=""
  # The highest semver tag on HEAD (other tags there are ignored; "~" makes sort -V put a
  # pre-release before its release, as semver does).
  for t in $(git tag --points-at HEAD 2>/dev/null | sed 's/-/~/' | sort -V | sed 's/~/-/'); do
    [[ $t =~ $semver ]] && tag=$t
  done
  if [[ -n $tag && -z $dirty ]]; then
    RELEASE_VERSION=$tag
  else
    RELEASE_VERSION="v0.0.0-dev+${commit}${dirty}"
  fi
fi

if [[ ${1:-} == version ]]; then # `make build` stamps the same version
  echo "$RELEASE_VERSION"
  exit 0
fi

rm -rf "$DIST"
mkdir -p "$DIST"
for arch in amd64 arm64; do
  bin="$DIST/proxbox-linux-$arch"
  GOOS=linux GOARCH=$arch "$GO" build -trimpath -buildvcs=false \
    -ldflags "-s -w -buildid= -X main.version=$RELEASE_VERSION -X main.commit=$commit" \
    -o "$bin" ./cmd/proxbox
  (cd "$DIST" && "$GO" version -m "proxbox-linux-$arch") > "$bin.sbom.txt"
done
(cd "$DIST" && sha256sum proxbox-linux-amd64 proxbox-linux-arm64 proxbox-linux-amd64.sbom.txt proxbox-linux-arm64.sbom.txt > SHA256SUMS)
echo "$RELEASE_VERSION" > "$DIST/VERSION"
echo "release $RELEASE_VERSION (commit $commit) in $DIST/:"
cat "$DIST/SHA256SUMS"
