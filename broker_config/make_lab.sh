#!/bin/sh
# Create a lab set-up for broker_config/mosquitto.conf: a small CA, a broker certificate,
# one client certificate per sensor (CN = its id), a mosquitto password file with a random
# password per user (each also written to passwords/<user>, mode 600, for the client's
# [mqtt] password_file), and the ACL: broker_config/acl plus one block per sensor that
# binds its username to its site and id. Existing files are kept and sensors remembered
# (in OUTDIR/sensors), so it can be re-run to add sensors.
#
#   sh broker_config/make_lab.sh OUTDIR [-H broker-host-name] [site/]sensor-id ...
#
# A sensor without a site is at site "hq". Users created: every sensor id given (default:
# hq/door-1), dashboard, admin, homeassistant. Sensor ids are usernames, so they must be
# unique on one broker. Not for production: use your own CA and keep ca.key offline.
set -eu

usage() {
    echo "usage: $0 OUTDIR [-H broker-host-name] [sensor-id ...]" >&2
    exit 2
}

[ $# -ge 1 ] || usage
out=$1
shift
host=localhost
if [ $# -ge 2 ] && [ "$1" = "-H" ]; then
    host=$2
    shift 2
fi
[ $# -ge 1 ] || set -- hq/door-1
here=$(cd "$(dirname "$0")" && pwd)

for tool in openssl mosquitto_passwd; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "$tool is missing; install the Debian packages openssl and mosquitto" >&2
        exit 1
    }
done
name_ok() {
    case $1 in
        *[!a-zA-Z0-9_-]* | "") return 1 ;;
    esac
}
sensors=""
ids=""
for arg in "$@"; do
    case $arg in
        */*) site=${arg%%/*}; id=${arg#*/} ;;
        *) site=hq; id=$arg ;;
    esac
    name_ok "$site" || { echo "site '$site' may use only letters, digits, '_' and '-'" >&2; exit 2; }
    name_ok "$id" || { echo "sensor id '$id' may use only letters, digits, '_' and '-'" >&2; exit 2; }
    case $id in
        dashboard | admin | homeassistant | bridge-*) echo "sensor id '$id' is a role's username; choose another id" >&2; exit 2 ;;
    esac
    sensors="$sensors $site/$id"
    ids="$ids $id"
done

umask 077
mkdir -p "$out/clients" "$out/passwords"
days=825

key() { # $1 path: an EC P-256 private key
    [ -s "$1" ] || openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
}

sign() { # $1 name, $2 subject CN, $3 extensions file
    openssl req -new -key "$out/$1.key" -subj "/CN=$2" -out "$out/$1.csr" 2>/dev/null
    openssl x509 -req -in "$out/$1.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" \
        -CAcreateserial -days "$days" -sha256 -extfile "$3" -out "$out/$1.crt" 2>/dev/null
    rm -f "$out/$1.csr"
}

ext=$(mktemp)
trap 'rm -f "$ext"' EXIT

key "$out/ca.key"
if [ ! -s "$out/ca.crt" ]; then
    openssl req -new -x509 -key "$out/ca.key" -subj "/CN=headcount lab CA" -days "$days" \
        -sha256 -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" -out "$out/ca.crt" 2>/dev/null
fi

key "$out/broker.key"
if [ ! -s "$out/broker.crt" ]; then
    printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:%s,DNS:localhost,IP:127.0.0.1,IP:::1\n' \
        "$host" >"$ext"
    sign broker "$host" "$ext"
fi

printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n' >"$ext"
for id in $ids; do
    key "$out/clients/$id.key"
    [ -s "$out/clients/$id.crt" ] || sign "clients/$id" "$id" "$ext"
done

# The sensors known so far (one site/id a line), then the ACL: roles, one block each.
touch "$out/sensors"
for s in $sensors; do
    id=${s#*/}
    if grep -q "/$id\$" "$out/sensors" && ! grep -qx "$s" "$out/sensors"; then
        echo "sensor id '$id' is already at another site; sensor ids must be unique on one broker" >&2
        exit 2
    fi
    grep -qx "$s" "$out/sensors" || echo "$s" >>"$out/sensors"
done
{
    cat "$here/acl"
    while read -r s; do
        site=${s%%/*}
        id=${s#*/}
        printf '\nuser %s\n' "$id"
        for t in status state counts privacy reset; do
            printf 'topic write headcount/%s/%s/%s\n' "$site" "$id" "$t"
        done
        printf 'topic read headcount/%s/%s/cmd/reset\n' "$site" "$id"
        printf 'topic read homeassistant/status\n'
        printf 'topic write homeassistant/device/%s/%s/config\n' "$site" "$id"
    done <"$out/sensors"
} >"$out/acl"

[ -f "$out/passwd" ] || : >"$out/passwd"
for user in $ids dashboard admin homeassistant; do
    if [ ! -s "$out/passwords/$user" ]; then
        openssl rand -hex 16 >"$out/passwords/$user"
    fi
    mosquitto_passwd -b "$out/passwd" "$user" "$(cat "$out/passwords/$user")"
done
chmod 644 "$out/ca.crt" "$out/broker.crt"

echo "lab set-up in $out: ca.crt, broker.crt/key, clients/<id>.crt/key, passwd, acl, passwords/<user>"
