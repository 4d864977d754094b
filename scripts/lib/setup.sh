# Shared set-up for scripts/test and scripts/demo, on a fresh Debian (or Ubuntu) machine.
# Sourced, not run. Idempotent: a second run installs nothing.

# Debian packages the lab and the suite use: real servers, real tools.
HOMEDIAG_DEBS=(
    python3 python3-venv            # the interpreter and venv (ensurepip)
    iproute2 nftables ethtool       # namespaces, veth, bridges, firewall faults, offload control
    iputils-ping                    # the usual tool the lab is cross-checked against
    dnsmasq-base                    # the router's and the "internet's" DNS
    mosquitto mosquitto-clients     # the MQTT broker
    knxd                            # KNXnet/IP gateways written by others (tests/lab/test_peer_knxd.py)
    avahi-daemon                    # device hosts' mDNS from an implementation not written here
    openssl ca-certificates
    prometheus                      # promtool: checks the watch --metrics scrape (tests/unit/test_watch_metrics.py)
)

# Units that Debian packages enable for boot but that must only ever run inside
# a lab namespace (knxd.socket would listen on TCP 6720 on every interface;
# prometheus is installed for promtool only: its server would listen on 9090).
HOMEDIAG_NO_BOOT_UNITS=(knxd.service knxd.socket prometheus.service)

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

setup_system_packages() {
    if [ "$(uname -s)" != "Linux" ] || ! command -v dpkg-query >/dev/null 2>&1; then
        log "not a Debian-like Linux: install ${HOMEDIAG_DEBS[*]} yourself"
        return 0
    fi
    local missing=()
    for pkg in "${HOMEDIAG_DEBS[@]}" "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && { disable_boot_units; return 0; }
    if [ "$(id -u)" -ne 0 ]; then
        log "missing Debian packages: ${missing[*]} (run as root to install them; lab tests skip without them)"
        return 0
    fi
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Packages like avahi-daemon and mosquitto start their service on install,
    # on this machine's own interfaces. homediag only ever runs them inside its
    # lab namespaces, so forbid service starts while installing (policy-rc.d is
    # Debian's mechanism for that; systemd's deb-systemd-invoke honours it too).
    local policy=/usr/sbin/policy-rc.d created=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy" && created=1
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || { [ $created -eq 1 ] && rm -f "$policy"; return 1; }
    [ $created -eq 1 ] && rm -f "$policy"
    disable_boot_units
    return 0
}

# Keep the units of HOMEDIAG_NO_BOOT_UNITS from starting at boot (idempotent;
# works without a running systemd, as in containers).
disable_boot_units() {
    [ "$(id -u)" -eq 0 ] || return 0
    local unit
    for unit in "${HOMEDIAG_NO_BOOT_UNITS[@]}"; do
        [ -e "/lib/systemd/system/$unit" ] || continue
        if command -v deb-systemd-helper >/dev/null 2>&1; then
            deb-systemd-helper disable "$unit" >/dev/null 2>&1 || true
        fi
        rm -f /etc/systemd/system/*.wants/"$unit"
    done
    if [ -x /etc/init.d/knxd ] && command -v update-rc.d >/dev/null 2>&1; then
        update-rc.d knxd disable >/dev/null 2>&1 || true
    fi
}

setup_venv() {
    local python="${PYTHON:-python3}"
    if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        log "homediag needs Python 3.11 or newer ($python is $("$python" --version 2>&1))"
        return 1
    fi
    if [ ! -x .venv/bin/python ]; then
        log "creating .venv"
        "$python" -m venv .venv
    fi
    # Reinstall only when the metadata of either distribution (homediag, and
    # the lab extra in lab/) changed since the last install, or the lab is
    # missing (a .venv made before the lab became a distribution of its own).
    local stamp=.venv/.homediag-installed
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ lab/pyproject.toml -nt "$stamp" ] \
        || ! .venv/bin/python -c 'import homediag_lab' 2>/dev/null; then
        log "installing homediag, its lab and its dev tools into .venv"
        .venv/bin/python -m pip install -q --upgrade pip >/dev/null
        # One pip call: the lab's requirement on homediag is the checkout itself.
        .venv/bin/python -m pip install -q -e '.[dev,scan]' -e ./lab
        touch "$stamp"
    fi
}

# Home Assistant core, a peer written by others that the lab runs inside a
# device namespace (tests/lab/test_peer_homeassistant.py). Its own venv,
# outside the checkout so that CI runs of fresh clones reuse it:
# ${HOMEDIAG_PEERS_DIR:-/var/cache/homediag/peers}/home-assistant-VERSION.
# Installed with the release's own package_constraints.txt (without them pip
# backtracks for a very long time), plus what the integrations it loads import
# at start (the lab runs it with --skip-pip: it never installs anything).
# Idempotent (a stamp file that names what was installed: a changed list
# installs only what is new) and locked (flock) so that two runs never install
# at once. Failure is not fatal here: the lab then raises LabError, and the
# peer's tests fail under CI=true.
HOMEDIAG_HA_VERSION=2024.3.3
HOMEDIAG_HA_EXTRA=(
    home-assistant-frontend zeroconf ifaddr Pillow janus psutil-home-assistant numpy
    securetar SQLAlchemy fnv-hash-fast hassil home-assistant-intents PyNaCl mutagen
    ha-ffmpeg 'josepy<2'
)

setup_homeassistant_peer() {
    local python="${PYTHON:-python3}"
    local peers="${HOMEDIAG_PEERS_DIR:-/var/cache/homediag/peers}"
    local dir="$peers/home-assistant-$HOMEDIAG_HA_VERSION"
    local stamp="$dir/.installed" want="homeassistant==$HOMEDIAG_HA_VERSION ${HOMEDIAG_HA_EXTRA[*]}"
    [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && return 0
    if ! "$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
        log "Home Assistant $HOMEDIAG_HA_VERSION needs Python 3.11: its peer tests will not run"
        return 0
    fi
    mkdir -p "$peers" || { log "cannot create $peers: Home Assistant peer not installed"; return 0; }
    (
        flock 9
        [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && exit 0
        log "installing Home Assistant $HOMEDIAG_HA_VERSION into $dir (once; about 800 MB)"
        local start=$SECONDS
        if [ ! -f "$stamp" ]; then
            rm -rf "$dir" && "$python" -m venv "$dir" || exit 1
            "$dir/bin/pip" install -q --upgrade pip >/dev/null || exit 1
        fi
        if [ ! -f "$dir/constraints.txt" ]; then
            local wheels="$dir/wheel" whl
            "$dir/bin/pip" download -q --no-deps -d "$wheels" "homeassistant==$HOMEDIAG_HA_VERSION" || exit 1
            whl=$(ls "$wheels"/homeassistant-"$HOMEDIAG_HA_VERSION"-*.whl) || exit 1
            "$dir/bin/python" - "$whl" "$dir/constraints.txt" <<'PY' || exit 1
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as whl, open(sys.argv[2], "wb") as out:
    out.write(whl.read("homeassistant/package_constraints.txt"))
PY
            rm -rf "$wheels"
        fi
        # shellcheck disable=SC2086 # $want is a list of requirements
        "$dir/bin/pip" install -q -c "$dir/constraints.txt" $want || exit 1
        "$dir/bin/hass" --version >/dev/null || exit 1
        du -sm "$dir" | cut -f1 > "$dir/.size-mb"
        echo $((SECONDS - start)) > "$dir/.install-seconds"
        printf '%s' "$want" > "$stamp"
        log "Home Assistant $HOMEDIAG_HA_VERSION installed in $((SECONDS - start)) s, $(cat "$dir/.size-mb") MB"
    ) 9>"$peers/.home-assistant.lock" || log "installing Home Assistant failed: its peer tests will not run"
    return 0
}

# amqtt, an MQTT 3.1.1 broker written by others that the lab runs in place of
# Mosquitto (tests/lab/test_peer_amqtt.py). A venv of its own, so that its
# dependencies (typer, websockets, psutil, argon2…) never meet homediag's, and
# outside the checkout so that fresh clones reuse it:
# ${HOMEDIAG_PEERS_DIR:-/var/cache/homediag/peers}/amqtt-VERSION. Idempotent
# (a stamp file), locked (flock); failure is not fatal here: the lab then
# raises LabError, and the peer's tests fail under CI=true.
HOMEDIAG_AMQTT_VERSION=0.12.1

setup_amqtt_peer() {
    local python="${PYTHON:-python3}"
    local peers="${HOMEDIAG_PEERS_DIR:-/var/cache/homediag/peers}"
    local dir="$peers/amqtt-$HOMEDIAG_AMQTT_VERSION" want="amqtt==$HOMEDIAG_AMQTT_VERSION"
    local stamp="$dir/.installed"
    [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && return 0
    mkdir -p "$peers" || { log "cannot create $peers: amqtt peer not installed"; return 0; }
    (
        flock 9
        [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && exit 0
        log "installing $want into $dir (once)"
        rm -rf "$dir" && "$python" -m venv "$dir" || exit 1
        "$dir/bin/pip" install -q "$want" || exit 1
        "$dir/bin/amqtt" --version >/dev/null || exit 1
        printf '%s' "$want" > "$stamp"
    ) 9>"$peers/.amqtt.lock" || log "installing amqtt failed: its peer tests will not run"
    return 0
}
