# Shared set-up for scripts/test and scripts/demo, on a fresh Debian (or Ubuntu) machine.
# Sourced, not run. Idempotent: a second run installs nothing.

# Debian packages the lab and the suite use: real servers, real tools.
HOMEDIAG_DEBS=(
    python3 python3-venv            # the interpreter and venv (ensurepip)
    iproute2 nftables ethtool       # namespaces, veth, bridges, firewall faults, offload control
    iputils-ping                    # the usual tool the lab is cross-checked against
    dnsmasq-base                    # the router's and the "internet's" DNS
    mosquitto mosquitto-clients     # the MQTT broker
    avahi-daemon                    # device hosts' mDNS from an implementation not written here
    openssl ca-certificates
)

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
    [ ${#missing[@]} -eq 0 ] && return 0
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
    return 0
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
