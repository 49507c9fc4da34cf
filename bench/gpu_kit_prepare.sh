#!/usr/bin/env bash
# Fills KIT-DIR with what bench/gpu_check.sh needs to run meddiff's tests and benchmarks on an
# offline Linux x86-64 machine with an NVIDIA GPU (run it on a networked Debian 12 machine):
#   deno.xz              the Deno binary on PATH (xz -9)
#   deno_dir.tar.xz      a DENO_DIR holding the npm packages of the tests, benches and tasks
#   debs/*.deb           Debian's Vulkan loader and GL dispatch (libvulkan1 libegl1 libglvnd0);
#                        the NVIDIA driver brings the Vulkan ICD itself
#   MANIFEST             commit, Deno version, and name, size and sha256 of every file
# The repository is not in the kit: the check runs from a checkout of the commit in MANIFEST.
# The kit must stay under 64 MiB; the script prints the total and fails above it.
#
# Usage: bench/gpu_kit_prepare.sh KIT-DIR
set -euo pipefail

LIMIT_BYTES=$((64 * 1024 * 1024))
DENO_VERSION=2.9.6
DEBS=(libvulkan1 libegl1 libglvnd0)

die() {
  echo "gpu_kit_prepare: $*" >&2
  exit 1
}
[ $# -eq 1 ] || die "usage: bench/gpu_kit_prepare.sh KIT-DIR"
repo=$(cd "$(dirname "$0")/.." && pwd)
kit=$1

for tool in deno xz tar git apt-get sha256sum du; do
  command -v "$tool" >/dev/null || die "needs $tool on PATH"
done
[ "$(uname -m)" = x86_64 ] || die "the kit is for linux x86-64; this machine is $(uname -m)"
deno_bin=$(command -v deno)
deno_version=$("$deno_bin" --version | head -1 | awk '{print $2}')
[ "$deno_version" = "$DENO_VERSION" ] || die "deno on PATH is $deno_version, the project uses $DENO_VERSION"
os_release() { sed -n "s/^$1=//p" /etc/os-release | tr -d '"'; }
codename=$(os_release VERSION_CODENAME)
[ "$codename" = bookworm ] || echo "gpu_kit_prepare: warning: this is $codename, not Debian 12 (bookworm); the .debs come from it" >&2

if [ -e "$kit" ] && [ -n "$(ls -A "$kit")" ]; then
  [ -f "$kit/MANIFEST" ] || die "$kit exists, is not empty and holds no MANIFEST: refusing to overwrite it"
  rm -rf "${kit:?}/deno.xz" "${kit:?}/deno_dir.tar.xz" "${kit:?}/debs" "${kit:?}/MANIFEST"
fi
mkdir -p "$kit/debs"
kit=$(cd "$kit" && pwd)

work=$(mktemp -d "${TMPDIR:-/tmp}/meddiff_kit.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "== deno $deno_version: xz -9 $deno_bin"
xz -9 -T1 -c "$deno_bin" >"$kit/deno.xz"

echo "== npm packages into a fresh DENO_DIR"
export DENO_DIR=$work/deno_dir DENO_NO_UPDATE_CHECK=1 NO_COLOR=1 XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
(
  cd "$repo"
  # The graphs of every entry point the check runs: the tests import their files dynamically, so
  # each file is named, and they spawn tasks/*.ts.
  deno cache --quiet --frozen-lockfile mod.ts tests/*.ts bench/*.ts tasks/*.ts
)
npm_dir=$DENO_DIR/npm/registry.npmjs.org
# sharp's optional packages for musl libc are fetched too, and deno --cached-only wants their folders
# (it does not tell glibc from musl), but the check runs on glibc: they keep their package.json only
# (libvips for musl is 17 MB). gen/ holds this checkout's transpiled modules, of no use elsewhere.
for d in "$npm_dir"/@img/*linuxmusl*/*/; do
  find "$d" -mindepth 1 -maxdepth 1 ! -name package.json -exec rm -rf {} +
done
rm -rf "$DENO_DIR/gen"
echo "largest npm packages (uncompressed):"
(cd "$npm_dir" && du -sh -- [!@]*/ @*/*/ | sort -h | tail -6 | sed 's/^/  /')
tar -C "$DENO_DIR" -cf - . | xz -9 -T1 >"$kit/deno_dir.tar.xz"

echo "== Debian packages: ${DEBS[*]}"
(cd "$kit/debs" && apt-get download "${DEBS[@]}") 2>&1 | { grep -v '^W: Download is performed unsandboxed' || true; }
for p in "${DEBS[@]}"; do
  compgen -G "$kit/debs/${p}_*.deb" >/dev/null || die "apt-get download $p failed"
done

commit=$(git -C "$repo" rev-parse HEAD)
dirty=$(git -C "$repo" status --porcelain --untracked-files=no | wc -l)
{
  echo "# meddiff GPU check kit (bench/gpu_kit_prepare.sh); run: bench/gpu_check.sh KIT-DIR OUT-DIR"
  echo "prepared: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $commit"
  echo "tracked files changed in the worktree: $dirty"
  git -C "$repo" status --porcelain --untracked-files=no | head -40 | sed 's/^/#   /'
  echo "deno: $deno_version ($(uname -m)-linux-gnu)"
  echo "debian: $(os_release PRETTY_NAME)"
  echo "# sha256, bytes, file"
  (cd "$kit" && find . -type f ! -name MANIFEST | sed 's|^\./||' | sort | while read -r f; do
    echo "$(sha256sum "$f" | cut -d' ' -f1)  $(stat -c %s "$f")  $f"
  done)
} >"$kit/MANIFEST"

echo "== $kit"
(cd "$kit" && find . -type f | sed 's|^\./||' | sort | while read -r f; do
  printf '  %10d  %s\n' "$(stat -c %s "$f")" "$f"
done)
total=$(find "$kit" -type f -printf '%s\n' | awk '{s += $1} END {print s}')
printf 'total: %d bytes (%.1f MiB; limit 64 MiB)\n' "$total" "$(awk "BEGIN {print $total / 1048576}")"
[ "$total" -le "$LIMIT_BYTES" ] || die "the kit is $total bytes, over the 64 MiB limit"
