#!/usr/bin/env bash
# Install, upgrade or remove the headcount sensor on Raspberry Pi OS (Bookworm, Trixie).
#
#   sudo firmware/install.sh              install, or upgrade in place (re-runnable)
#   sudo firmware/install.sh --dry-run    print every action, change nothing
#   sudo firmware/install.sh --uninstall  remove all but the config and the journal
#   sudo firmware/install.sh --venue      install the venue server (headcount-venue.service)
#   sudo firmware/install.sh --venue --uninstall   remove it, keeping venue.toml and history
#
# Run it from a checkout of the repository: it installs that checkout.
set -euo pipefail

PREFIX=/opt/headcount
VENV=$PREFIX/venv
CONF_DIR=/etc/headcount
CONFIG=$CONF_DIR/config.toml
HOSTS_FILE=$CONF_DIR/hosts
STATE_DIR=/var/lib/headcount
JOURNAL_DIR=$STATE_DIR/journal
UNIT_NAME=headcount.service
UNIT=/etc/systemd/system/$UNIT_NAME
DROPIN_DIR=/etc/systemd/system/$UNIT_NAME.d
DROPIN=$DROPIN_DIR/broker.conf
SERVICE_USER=headcount
VENUE_CONF_DIR=/etc/headcount-venue
VENUE_CONFIG=$VENUE_CONF_DIR/venue.toml
VENUE_UNIT_NAME=headcount-venue.service
VENUE_UNIT=/etc/systemd/system/$VENUE_UNIT_NAME
VENUE_USER=headcount-venue
VENUE_STATE_DIR=/var/lib/headcount-venue
# The distribution's Python: its dist-packages hold python3-picamera2 and libcamera.
PYTHON=${HEADCOUNT_PYTHON:-/usr/bin/python3}

HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
SRC=$(dirname -- "$HERE")

DRY_RUN=0
UNINSTALL=0
ROOT=""
CHECK_OS=1
PRINT_DROPIN=0
CONFIG_ARG=""
VENUE=0

usage() {
    cat <<EOF
usage: install.sh [--dry-run] [--uninstall] [--venue] [--root DIR] [--skip-os-check]
       install.sh --print-dropin [--config FILE]

  --dry-run        print every action and change nothing
  --uninstall      stop and remove the service, its user, venv and unit; keep
                   $CONFIG, the MQTT password and the journal in $JOURNAL_DIR
  --venue          install (or with --uninstall remove) the venue server instead:
                   $VENUE_UNIT_NAME running as user $VENUE_USER with
                   $VENUE_CONFIG and its history in $VENUE_STATE_DIR
  --root DIR       look for existing files under DIR instead of / (with --dry-run only;
                   used by the tests)
  --skip-os-check  install on an OS other than Raspberry Pi OS / Debian Bookworm or Trixie
  --print-dropin   print the systemd drop-in that limits the service to the broker
                   named in the config (default $CONFIG, else the example) and exit

  HEADCOUNT_PYTHON the distribution's Python to build the venv from (default /usr/bin/python3)
EOF
}

say() { printf '%s\n' "$*"; }
die() {
    printf 'install.sh: %s\n' "$*" >&2
    exit 1
}

# Print a command as a shell would read it, then run it unless this is a dry run.
run() {
    local line
    line=$(printf '%q ' "$@")
    say "+ ${line% }"
    if [ "$DRY_RUN" -eq 0 ]; then
        "$@"
    fi
}

# Write CONTENT to the file PATH with MODE, owned by OWNER:GROUP; print it on a dry run.
write_file() {
    local path=$1 mode=$2 owner=$3 content=$4
    say "+ write $path (mode $mode, owner $owner)"
    if [ "$DRY_RUN" -eq 1 ]; then
        printf '%s\n' "$content" | sed 's/^/    | /'
        return
    fi
    local tmp
    tmp=$(mktemp "$path.XXXXXX")
    printf '%s\n' "$content" >"$tmp"
    chmod "$mode" "$tmp"
    chown "$owner" "$tmp"
    mv -f "$tmp" "$path"
}

parse_args() {
    while [ $# -gt 0 ]; do
        case $1 in
        --dry-run) DRY_RUN=1 ;;
        --uninstall) UNINSTALL=1 ;;
        --root)
            [ $# -ge 2 ] || die "--root needs a directory"
            ROOT=${2%/}
            shift
            ;;
        --skip-os-check) CHECK_OS=0 ;;
        --print-dropin) PRINT_DROPIN=1 ;;
        --venue) VENUE=1 ;;
        --config)
            [ $# -ge 2 ] || die "--config needs a file"
            CONFIG_ARG=$2
            shift
            ;;
        -h | --help)
            usage
            exit 0
            ;;
        *)
            usage >&2
            die "unknown option: $1"
            ;;
        esac
        shift
    done
    if [ -n "$ROOT" ] && [ "$DRY_RUN" -eq 0 ] && [ "$PRINT_DROPIN" -eq 0 ]; then
        die "--root is only supported with --dry-run"
    fi
}

check_root_user() {
    if [ "$DRY_RUN" -eq 0 ] && [ "$(id -u)" -ne 0 ]; then
        die "run as root: sudo $0 $*"
    fi
}

# The OS, the CPU and Python: LiteRT has wheels for 64-bit ARM and x86-64 only.
check_platform() {
    local os_release=/etc/os-release id="" like="" codename="" arch
    if [ -f "$ROOT/etc/os-release" ]; then
        os_release=$ROOT/etc/os-release
    fi
    if [ -f "$os_release" ]; then
        # shellcheck source=/dev/null
        id=$(. "$os_release" && printf '%s' "${ID:-}")
        # shellcheck source=/dev/null
        like=$(. "$os_release" && printf '%s' "${ID_LIKE:-}")
        # shellcheck source=/dev/null
        codename=$(. "$os_release" && printf '%s' "${VERSION_CODENAME:-}")
    fi
    say "OS: ${id:-unknown} ${codename:-unknown}"
    if [ "$CHECK_OS" -eq 1 ]; then
        case " $id $like " in
        *" debian "* | *" raspbian "*) ;;
        *) die "Raspberry Pi OS or Debian is required, found '${id:-unknown}' (--skip-os-check to try anyway)" ;;
        esac
        case $codename in
        bookworm | trixie) ;;
        *) die "Bookworm or Trixie is required, found '${codename:-unknown}' (--skip-os-check to try anyway)" ;;
        esac
    fi
    arch=$(uname -m)
    case $arch in
    aarch64 | x86_64) say "CPU: $arch" ;;
    armv6l | armv7l) die "a 64-bit OS is required (found $arch): LiteRT publishes no 32-bit ARM wheels; flash Raspberry Pi OS (64-bit)" ;;
    *) die "unsupported CPU architecture $arch (aarch64 or x86_64 needed)" ;;
    esac
    [ -x "$PYTHON" ] || die "$PYTHON is missing: apt-get install python3"
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
        die "Python 3.11 or newer is required, found $("$PYTHON" -V 2>&1)"
    say "Python: $PYTHON $("$PYTHON" -V 2>&1 | cut -d' ' -f2)"
}

# The config the service will run with: the installed one, else the example it gets.
config_source() {
    if [ -n "$CONFIG_ARG" ]; then
        printf '%s' "$CONFIG_ARG"
    elif [ -f "$ROOT$CONFIG" ]; then
        printf '%s' "$ROOT$CONFIG"
    else
        printf '%s' "$HERE/config.example.toml"
    fi
}

# Read what the installer needs from the TOML config and resolve the broker's addresses.
# Sets MQTT_HOST, MQTT_PORT, SOURCE_URI, JOURNAL, PASSWORD_FILE and BROKER_ADDRS.
read_config() {
    local file=$1 vars
    [ -f "$file" ] || die "no config at $file"
    vars=$("$PYTHON" - "$file" <<'PY'
import ipaddress
import shlex
import socket
import sys
import tomllib

path = sys.argv[1]
try:
    with open(path, "rb") as f:
        cfg = tomllib.load(f)
except (OSError, tomllib.TOMLDecodeError) as exc:
    sys.exit(f"install.sh: cannot read {path}: {exc}")
mqtt = cfg.get("mqtt", {})
host = str(mqtt.get("host", "localhost"))
port = int(mqtt.get("port", 1883))
if host in ("localhost", "localhost.localdomain", "ip6-localhost"):
    addrs = ["127.0.0.1", "::1"]
else:
    try:
        addrs = [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        if not host.replace("-", "").replace(".", "").replace("_", "").isalnum():
            sys.exit(f"install.sh: [mqtt] host = {host!r} in {path} is not a host name")
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            sys.exit(
                f"install.sh: cannot resolve the broker {host!r} ([mqtt] host in {path}):"
                f" {exc}; fix the name or the network, or use an IP address"
            )
        addrs = list(dict.fromkeys(str(info[4][0]).split("%")[0] for info in infos))
values = {
    "MQTT_HOST": host,
    "MQTT_PORT": str(port),
    "SOURCE_URI": str(cfg.get("source", {}).get("uri", "picamera2")),
    "JOURNAL": str(cfg.get("journal", {}).get("dir", "/var/lib/headcount/journal")),
    "PASSWORD_FILE": str(mqtt.get("password_file", "")),
    "BROKER_ADDRS": " ".join(addrs),
}
for key, value in values.items():
    print(f"{key}={shlex.quote(value)}")
PY
    ) || exit 1
    eval "$vars"
    if [ "${JOURNAL%/}" != "$JOURNAL_DIR" ]; then
        die "[journal] dir = '$JOURNAL' in $file: the service may write only $JOURNAL_DIR; use that path"
    fi
}

# Drop-in that lets the service reach the broker and nothing else, and pins its name.
render_dropin() {
    local addr
    printf '# Written by firmware/install.sh from [mqtt] host = "%s" in %s.\n' "$MQTT_HOST" "$CONFIG"
    printf '# Re-run install.sh after changing the broker; do not edit by hand.\n'
    printf '[Service]\n'
    printf '# The broker is the only IP peer (the unit denies every other address).\n'
    printf 'IPAddressAllow=\n'
    for addr in $BROKER_ADDRS; do
        printf 'IPAddressAllow=%s\n' "$addr"
    done
    printf '# The broker name resolves from this file, so the service needs no DNS server.\n'
    printf 'BindReadOnlyPaths=%s:/etc/hosts\n' "$HOSTS_FILE"
}

render_hosts() {
    local addr
    printf '# /etc/hosts inside headcount.service (written by firmware/install.sh)\n'
    printf '127.0.0.1 localhost\n::1 localhost\n'
    case $MQTT_HOST in
    localhost) ;;
    *)
        for addr in $BROKER_ADDRS; do
            [ "$addr" = "$MQTT_HOST" ] || printf '%s %s\n' "$addr" "$MQTT_HOST"
        done
        ;;
    esac
}

systemd_running() {
    [ -z "$ROOT" ] && [ -d /run/systemd/system ]
}

apt_install() {
    local missing=() pkg
    for pkg in "$@"; do
        if [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" != "install ok installed" ]; then
            missing+=("$pkg")
        fi
    done
    if [ ${#missing[@]} -eq 0 ]; then
        say "apt packages present: $*"
        return
    fi
    run apt-get update
    if ! run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"; then
        die "could not install ${missing[*]}; python3-picamera2 comes from the Raspberry Pi OS archive: elsewhere, set [source] uri to a webcam (\"0\") in the config"
    fi
}

user_exists() {
    if [ -n "$ROOT" ]; then
        grep -q "^$1:" "$ROOT/etc/passwd" 2>/dev/null
    else
        getent passwd "$1" >/dev/null
    fi
}

ensure_user() {
    local user=${1:-$SERVICE_USER} comment=${2:-"headcount sensor"}
    if user_exists "$user"; then
        say "user $user exists"
        return
    fi
    run useradd --system --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin --comment "$comment" "$user"
}

# A venv outlives an OS upgrade only if its Python is still the distribution's one.
venv_matches() {
    local want have
    want=$("$PYTHON" -c 'import sys; print(sys.version_info[:2])') || return 1
    have=$("$VENV/bin/python" -c 'import sys; print(sys.version_info[:2])' 2>/dev/null) || return 1
    [ "$want" = "$have" ] && [ -d "$VENV/lib/python$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" ]
}

# The venv sees the distribution's picamera2 and libcamera; pin numpy to the system's so
# that pip never replaces the numpy those Debian packages were built against.
ensure_venv() {
    local numpy_version
    if [ -x "$ROOT$VENV/bin/python" ] && { [ -n "$ROOT" ] || venv_matches; }; then
        say "virtual environment $VENV exists"
    else
        if [ -e "$ROOT$VENV" ]; then
            run rm -rf "$VENV"
        fi
        run "$PYTHON" -m venv --system-site-packages "$VENV"
    fi
    numpy_version=$("$PYTHON" -c 'import numpy; print(numpy.__version__)' 2>/dev/null || true)
    if [ -n "$numpy_version" ]; then
        write_file "$VENV/constraints.txt" 0644 root:root "numpy==$numpy_version"
    else
        write_file "$VENV/constraints.txt" 0644 root:root "# no system numpy to pin"
    fi
}

install_package() {
    local target=$SRC
    case $SOURCE_URI in
    picamera2 | synthetic:*) ;;
    *) target="${SRC}[opencv]" ;;
    esac
    run "$VENV/bin/python" -m pip install --upgrade --upgrade-strategy only-if-needed \
        --constraint "$VENV/constraints.txt" "$target"
    run "$VENV/bin/python" -c 'import ai_edge_litert.interpreter'
    run "$VENV/bin/headcount" --version
}

install_config() {
    run install -d -m 0750 -o root -g "$SERVICE_USER" "$CONF_DIR"
    if [ -f "$ROOT$CONFIG" ]; then
        say "keeping the existing $CONFIG"
        run chown "root:$SERVICE_USER" "$CONFIG"
        run chmod 0640 "$CONFIG"
    else
        run install -m 0640 -o root -g "$SERVICE_USER" "$HERE/config.example.toml" "$CONFIG"
        say "wrote $CONFIG from the example: edit [sensor], [[lines]], [[zones]] and [mqtt]"
    fi
    if [ -n "$PASSWORD_FILE" ]; then
        if [ -f "$ROOT$PASSWORD_FILE" ]; then
            run chown "root:$SERVICE_USER" "$PASSWORD_FILE"
            run chmod 0640 "$PASSWORD_FILE"
        else
            say "note: $PASSWORD_FILE does not exist; put the MQTT password there if the broker wants one"
        fi
    fi
}

install_unit() {
    run install -d -m 0755 "$PREFIX/firmware"
    run install -m 0644 "$HERE/README.md" "$PREFIX/firmware/README.md"
    run install -m 0644 "$HERE/headcount.service" "$UNIT"
    run install -d -m 0755 "$DROPIN_DIR"
    write_file "$HOSTS_FILE" 0644 root:root "$(render_hosts)"
    write_file "$DROPIN" 0644 root:root "$(render_dropin)"
    if systemd_running; then
        run systemctl daemon-reload
        run systemctl enable "$UNIT_NAME"
        run systemctl restart "$UNIT_NAME"
    else
        run systemctl enable "$UNIT_NAME"
        say "systemd is not running here: $UNIT_NAME starts at the next boot"
    fi
}

# Raspberry Pi Camera Modules are found by camera_auto_detect=1 in config.txt (the
# default on current images); say what to add when it is off and no overlay is set.
check_camera_config() {
    local txt=""
    [ "$SOURCE_URI" = picamera2 ] || return 0
    for txt in "$ROOT/boot/firmware/config.txt" "$ROOT/boot/config.txt"; do
        [ -f "$txt" ] && break
        txt=""
    done
    [ -n "$txt" ] || return 0
    if ! grep -Eq '^[[:space:]]*(camera_auto_detect=1|dtoverlay=(imx|ov)[0-9])' "$txt"; then
        say "note: no camera line in $txt: add 'camera_auto_detect=1' (or e.g. 'dtoverlay=imx708') and reboot"
    fi
}

do_install() {
    check_platform
    read_config "$(config_source)"
    say "broker: $MQTT_HOST:$MQTT_PORT -> $BROKER_ADDRS; source: $SOURCE_URI"
    local packages=(python3-venv)
    if [ "$SOURCE_URI" = picamera2 ]; then
        packages+=(python3-picamera2)
    fi
    apt_install "${packages[@]}"
    ensure_user
    run install -d -m 0755 "$PREFIX"
    ensure_venv
    install_package
    install_config
    install_unit
    check_camera_config
    say "done: journalctl -u $UNIT_NAME -f shows the sensor's log"
}

do_uninstall() {
    if [ -f "$ROOT$UNIT" ]; then
        if systemd_running; then
            run systemctl disable --now "$UNIT_NAME"
        else
            run systemctl disable "$UNIT_NAME"
        fi
    fi
    run rm -f "$UNIT"
    run rm -rf "$DROPIN_DIR"
    if systemd_running; then
        run systemctl daemon-reload
    fi
    run rm -rf "$PREFIX"
    run rm -f "$HOSTS_FILE"
    if [ -n "$ROOT" ] && grep -q "^$SERVICE_USER:" "$ROOT/etc/passwd" 2>/dev/null; then
        run userdel "$SERVICE_USER"
    elif [ -z "$ROOT" ] && getent passwd "$SERVICE_USER" >/dev/null; then
        run userdel "$SERVICE_USER"
    fi
    say "kept: $CONF_DIR (config and MQTT password), $STATE_DIR (the count journal) and the service's log in the systemd journal"
    say "kept: apt packages (python3-venv, python3-picamera2); remove them with apt-get if nothing else uses them"
    say "to remove the rest too: rm -rf $CONF_DIR $STATE_DIR"
}

# --- the venue server (--venue) ---------------------------------------------------

# Read what the installer needs from venue.toml: its password files and history path.
read_venue_config() {
    local file=$1 vars
    [ -f "$file" ] || die "no venue config at $file"
    vars=$("$PYTHON" - "$file" <<'PY'
import shlex
import sys
import tomllib

path = sys.argv[1]
try:
    with open(path, "rb") as f:
        cfg = tomllib.load(f)
except (OSError, tomllib.TOMLDecodeError) as exc:
    sys.exit(f"install.sh: cannot read {path}: {exc}")
values = {
    "MQTT_PASSWORD_FILE": str(cfg.get("mqtt", {}).get("password_file", "")),
    "HTTP_PASSWORD_FILE": str(cfg.get("http", {}).get("password_file", "")),
    "HISTORY": str(cfg.get("history", {}).get("path", "/var/lib/headcount-venue/history.sqlite")),
}
for key, value in values.items():
    print(f"{key}={shlex.quote(value)}")
PY
    ) || exit 1
    eval "$vars"
    case $HISTORY in
    "$VENUE_STATE_DIR"/*) ;;
    *) die "[history] path = '$HISTORY' in $file: the venue service may write only $VENUE_STATE_DIR; use a file there" ;;
    esac
}

install_venue_config() {
    local secret
    run install -d -m 0750 -o root -g "$VENUE_USER" "$VENUE_CONF_DIR"
    if [ -f "$ROOT$VENUE_CONFIG" ]; then
        say "keeping the existing $VENUE_CONFIG"
        run chown "root:$VENUE_USER" "$VENUE_CONFIG"
        run chmod 0640 "$VENUE_CONFIG"
    else
        run install -m 0640 -o root -g "$VENUE_USER" "$HERE/venue.example.toml" "$VENUE_CONFIG"
        say "wrote $VENUE_CONFIG from the example: edit [venue], [[entrances]] and [mqtt]"
    fi
    for secret in "$MQTT_PASSWORD_FILE" "$HTTP_PASSWORD_FILE"; do
        [ -n "$secret" ] || continue
        if [ -f "$ROOT$secret" ]; then
            run chown "root:$VENUE_USER" "$secret"
            run chmod 0640 "$secret"
        else
            say "note: $secret does not exist; write the password on its first line"
        fi
    done
}

do_install_venue() {
    check_platform
    local config=$HERE/venue.example.toml
    if [ -n "$CONFIG_ARG" ]; then
        config=$CONFIG_ARG
    elif [ -f "$ROOT$VENUE_CONFIG" ]; then
        config=$ROOT$VENUE_CONFIG
    fi
    read_venue_config "$config"
    apt_install python3-venv
    ensure_user "$VENUE_USER" "headcount venue server"
    run install -d -m 0755 "$PREFIX"
    ensure_venv
    SOURCE_URI=picamera2 install_package
    install_venue_config
    run install -d -m 0755 "$PREFIX/firmware"
    run install -m 0644 "$HERE/README.md" "$PREFIX/firmware/README.md"
    run install -m 0644 "$HERE/headcount-venue.service" "$VENUE_UNIT"
    if systemd_running; then
        run systemctl daemon-reload
        run systemctl enable "$VENUE_UNIT_NAME"
        run systemctl restart "$VENUE_UNIT_NAME"
    else
        run systemctl enable "$VENUE_UNIT_NAME"
        say "systemd is not running here: $VENUE_UNIT_NAME starts at the next boot"
    fi
    say "done: journalctl -u $VENUE_UNIT_NAME -f shows the venue server's log"
}

do_uninstall_venue() {
    if [ -f "$ROOT$VENUE_UNIT" ]; then
        if systemd_running; then
            run systemctl disable --now "$VENUE_UNIT_NAME"
        else
            run systemctl disable "$VENUE_UNIT_NAME"
        fi
    fi
    run rm -f "$VENUE_UNIT"
    if systemd_running; then
        run systemctl daemon-reload
    fi
    if user_exists "$VENUE_USER"; then
        run userdel "$VENUE_USER"
    fi
    say "kept: $VENUE_CONF_DIR (venue.toml and passwords), the history in $VENUE_STATE_DIR and $PREFIX (the sensor's too; install.sh --uninstall removes it)"
}

main() {
    parse_args "$@"
    if [ "$PRINT_DROPIN" -eq 1 ]; then
        read_config "$(config_source)"
        render_dropin
        return
    fi
    check_root_user "$@"
    if [ "$DRY_RUN" -eq 1 ]; then
        say "dry run: nothing will be changed${ROOT:+ (existing files looked up under $ROOT)}"
    fi
    if [ "$VENUE" -eq 1 ] && [ "$UNINSTALL" -eq 1 ]; then
        do_uninstall_venue
    elif [ "$VENUE" -eq 1 ]; then
        do_install_venue
    elif [ "$UNINSTALL" -eq 1 ]; then
        do_uninstall
    else
        do_install
    fi
}

main "$@"
