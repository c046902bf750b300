#!/bin/sh
# Fetch the real sample footage and photos used by the demo and the tests from Debian's
# packages, without root, into a cache folder. Nothing fetched here is committed.
#   opencv-doc: examples/data/vtest.avi (demo only), basketball1.png, leuvenA.jpg (tests)
#   darknet:    data/person.jpg (tests)
#   pixel scenes (lab/pixels): opencv-doc leuvenA.jpg (an empty street, the background),
#   darknet person.jpg and kite.jpg (people cut out at run time)
set -eu

CACHE="${HEADCOUNT_SAMPLES:-${XDG_CACHE_HOME:-$HOME/.cache}/headcount/samples}"
mkdir -p "$CACHE/debs"

fetch() {
    # $1 package, $2 path inside the package, $3 name in the cache
    if [ -s "$CACHE/$3" ]; then
        return 0
    fi
    deb=$(find "$CACHE/debs" -name "$1_*.deb" | head -n 1)
    if [ -z "$deb" ]; then
        (cd "$CACHE/debs" && apt-get download "$1" >/dev/null) || {
            echo "Could not download the Debian package $1; run 'apt-get update' (as root) and retry." >&2
            exit 1
        }
        deb=$(find "$CACHE/debs" -name "$1_*.deb" | head -n 1)
    fi
    tmp=$(mktemp -d)
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" "./$2"
    mv "$tmp/$2" "$CACHE/$3"
    rm -rf "$tmp"
}

fetch opencv-doc usr/share/doc/opencv-doc/examples/data/vtest.avi vtest.avi
fetch opencv-doc usr/share/doc/opencv-doc/examples/data/basketball1.png basketball1.png
fetch opencv-doc usr/share/doc/opencv-doc/examples/data/leuvenA.jpg leuvenA.jpg
fetch darknet usr/share/darknet/data/person.jpg person.jpg
fetch opencv-doc usr/share/doc/opencv-doc/examples/data/leuvenA.jpg leuvenA.jpg
fetch darknet usr/share/darknet/data/kite.jpg kite.jpg
echo "$CACHE"
