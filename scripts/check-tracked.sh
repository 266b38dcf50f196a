#!/usr/bin/env bash
# Fails when a tracked file is a binary or larger than 1 MB: build outputs, data folders and caches stay
# out of the repository. Generated code and the OpenAPI documents may be large; they are named here.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

limit=$((1024 * 1024))
large_ok() {
	case "$1" in
	pkg/gen/*.pb.go | docs/api/openapi.json | pkg/gateway/openapi/openapi.json) return 0 ;;
	esac
	return 1
}

status=0
while IFS= read -r -d '' f; do
	[ -f "$f" ] || continue
	size=$(stat -c %s "$f")
	if [ "$size" -gt 0 ] && ! grep -Iq . "$f"; then
		echo "check-tracked: $f is a binary file; build outputs are never committed" >&2
		status=1
	fi
	if [ "$size" -gt "$limit" ] && ! large_ok "$f"; then
		echo "check-tracked: $f is $size bytes, over the 1 MB limit for tracked files" >&2
		status=1
	fi
done < <(git ls-files -z)
exit "$status"
