#!/usr/bin/env bash
# Builds, from their Go modules, the OpenTelemetry Collector and the Jaeger v2 binary that the
# stack tests (tests/stack/) run, at the releases docker-compose.yml pins, into a cache outside
# the repository. A binary is rebuilt only when its version (or, for the Collector, the builder
# manifest collector/builder-config.yaml) changes, so a warm run takes a second.
#
#   scripts/build-stack.sh           build what is missing, then print the two paths
#   scripts/build-stack.sh --paths   print the paths (KEY=path lines) without building
#
# Cache: ${AGENTSPANS_STACK_CACHE:-$HOME/.cache/agentspans/stack}
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=${AGENTSPANS_STACK_CACHE:-$HOME/.cache/agentspans/stack}
MANIFEST=collector/builder-config.yaml
COMPOSE=docker-compose.yml

die() { echo "build-stack: $*" >&2; exit 1; }

# The release an image is pinned to in docker-compose.yml ("image: NAME:TAG").
compose_tag() {
  sed -n "s|^[[:space:]]*image:[[:space:]]*[\"']\{0,1\}$1:\([^\"'[:space:]]*\).*|\1|p" "$COMPOSE" | head -n 1
}

COLLECTOR_VERSION=$(compose_tag otel/opentelemetry-collector-contrib)
JAEGER_VERSION=$(compose_tag jaegertracing/jaeger)
[ -n "$COLLECTOR_VERSION" ] || die "$COMPOSE: no otel/opentelemetry-collector-contrib:TAG image"
[ -n "$JAEGER_VERSION" ] || die "$COMPOSE: no jaegertracing/jaeger:TAG image"

# Jaeger v2's module path has no /v2: each v2 release also carries a v1 tag on the same commit,
# and that v1 version is the one the Go module proxy serves (v2.13.0 is v1.76.0; later v2
# releases have no v1 tag, and the proxy this project builds from refuses their commits). Add a
# line here when docker-compose.yml moves to a release with a served module version.
case "$JAEGER_VERSION" in
  2.13.0) JAEGER_MODULE_VERSION=v1.76.0 ;;
  *) die "$COMPOSE pins jaegertracing/jaeger:$JAEGER_VERSION; add its Go module version to $0" ;;
esac

# Every v0 component in the manifest must be at the compose file's Collector release.
manifest_version=$(sed -n 's/^[[:space:]]*version:[[:space:]]*\([0-9.]*\).*/\1/p' "$MANIFEST" | head -n 1)
[ "$manifest_version" = "$COLLECTOR_VERSION" ] ||
  die "$MANIFEST: dist.version $manifest_version, but $COMPOSE pins the Collector at $COLLECTOR_VERSION"
stray=$(grep -E '^[[:space:]]*- gomod: .* v0\.' "$MANIFEST" | grep -v " v$COLLECTOR_VERSION\$" || true)
[ -z "$stray" ] || die "$MANIFEST: components not at v$COLLECTOR_VERSION: $stray"

# Comments do not change the binary, so they do not count towards the rebuild key.
manifest_hash=$(grep -v -E "^[[:space:]]*(#|$)" "$MANIFEST" | sha256sum | cut -c1-12)
COLLECTOR_DIR="$CACHE/otelcol-$COLLECTOR_VERSION-$manifest_hash"
JAEGER_DIR="$CACHE/jaeger-$JAEGER_VERSION"
COLLECTOR_BIN="$COLLECTOR_DIR/otelcol-agentspans"
JAEGER_BIN="$JAEGER_DIR/jaeger"

print_paths() {
  echo "AGENTSPANS_OTELCOL=$COLLECTOR_BIN"
  echo "AGENTSPANS_JAEGER=$JAEGER_BIN"
}
if [ "${1:-}" = "--paths" ]; then print_paths; exit 0; fi

if [ -x "$COLLECTOR_BIN" ] && [ -x "$JAEGER_BIN" ]; then
  echo "build-stack: cached: Collector $COLLECTOR_VERSION and Jaeger $JAEGER_VERSION in $CACHE" >&2
  print_paths
  exit 0
fi

mkdir -p "$CACHE"
command -v go >/dev/null ||
  die "the Go toolchain is missing (need Go >= 1.26 on PATH) to build the Collector and Jaeger"

# Two cores are shared with everything else: build at low priority, one binary at a time.
export GOFLAGS="${GOFLAGS:-} -trimpath"
NICE="nice -n 10"
work=""
trap '[ -z "$work" ] || rm -rf "$work" "$work.yaml"' EXIT
elapsed() { echo "$(( $(date +%s) - $1 ))s"; }

if [ ! -x "$COLLECTOR_BIN" ]; then
  start=$(date +%s)
  tools="$CACHE/tools/builder-$COLLECTOR_VERSION"
  if [ ! -x "$tools/builder" ]; then
    GOBIN="$tools" $NICE go install "go.opentelemetry.io/collector/cmd/builder@v$COLLECTOR_VERSION"
  fi
  work=$(mktemp -d "$CACHE/otelcol-build.XXXXXX")
  # The builder writes the generated sources and the binary under dist.output_path.
  sed "s|^\([[:space:]]*output_path:\).*|\1 $work|" "$MANIFEST" > "$work.yaml"
  $NICE "$tools/builder" --config "$work.yaml" >&2
  mkdir -p "$COLLECTOR_DIR"
  mv "$work/otelcol-agentspans" "$COLLECTOR_BIN.tmp" && mv "$COLLECTOR_BIN.tmp" "$COLLECTOR_BIN"
  rm -rf "$work" "$work.yaml"
  # Older builds (another version or manifest) are 80 MB each and nothing uses them.
  find "$CACHE" -maxdepth 1 -name 'otelcol-*' -type d ! -path "$COLLECTOR_DIR" -exec rm -rf {} +
  echo "build-stack: Collector $COLLECTOR_VERSION built in $(elapsed "$start")" >&2
fi

if [ ! -x "$JAEGER_BIN" ]; then
  start=$(date +%s)
  mkdir -p "$JAEGER_DIR"
  # `go install pkg@version` refuses a module whose go.mod has replace directives (Jaeger's
  # has one), so build it as a tool of a throwaway module instead.
  work=$(mktemp -d "$CACHE/jaeger-build.XXXXXX")
  (
    cd "$work"
    go mod init agentspans.invalid/jaeger-build >/dev/null 2>&1
    $NICE go get -tool "github.com/jaegertracing/jaeger/cmd/jaeger@$JAEGER_MODULE_VERSION"
    $NICE go build -ldflags="-s -w" -o jaeger github.com/jaegertracing/jaeger/cmd/jaeger
  )
  mv "$work/jaeger" "$JAEGER_BIN.tmp" && mv "$JAEGER_BIN.tmp" "$JAEGER_BIN"
  rm -rf "$work"
  find "$CACHE" -maxdepth 1 -name 'jaeger-*' -type d ! -path "$JAEGER_DIR" -exec rm -rf {} +
  echo "build-stack: Jaeger $JAEGER_VERSION built in $(elapsed "$start")" >&2
fi

print_paths
