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
    # the lab extra in lab/) or the extras installed changed since the last
    # install (the stamp holds their checksums: mtimes lie after a copy or a
    # checkout), or something is missing (the lab, a distribution of its own;
    # the server extra's packages, for a .venv made before homediag[server]).
    local stamp=.venv/.homediag-installed extras='.[dev,scan,metrics,server]' want
    want="$extras $(cat pyproject.toml lab/pyproject.toml | sha256sum | cut -d' ' -f1)"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] \
        || ! .venv/bin/python -c 'import homediag_lab, fastapi, uvicorn, asyncpg, aiosqlite, alembic, argon2' 2>/dev/null; then
        log "installing homediag, its lab, its server and its dev tools into .venv"
        .venv/bin/python -m pip install -q --upgrade pip >/dev/null
        # One pip call: the lab's requirement on homediag is the checkout itself.
        .venv/bin/python -m pip install -q -e "$extras" -e ./lab
        printf '%s' "$want" > "$stamp"
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

# A private PostgreSQL cluster for the server's tests (tests/server run on
# SQLite and on PostgreSQL): initdb into a fresh directory under /tmp, owned by
# the `postgres` user when we are root (PostgreSQL refuses to run as root),
# listening on 127.0.0.1 and a unix socket in that directory only, on a free
# non-default port, password-only (scram), fsync off (a test cluster holds
# nothing worth keeping). Never touches the machine's own clusters (no
# pg_ctlcluster, no systemctl). Exports HOMEDIAG_TEST_PG (a superuser URL the
# fixtures create one database per test with); stop_test_postgres stops it and
# removes its directory. A cluster left by a run that was killed (its owner
# process is gone) is removed by the next start. Not fatal when PostgreSQL is
# missing: the PostgreSQL tests then skip, and fail under CI=true.
HOMEDIAG_TEST_PG_DIR=

start_test_postgres() {
    local bindir
    bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$bindir" ] && command -v pg_config >/dev/null 2>&1; then
        bindir=$(pg_config --bindir)
    fi
    if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ] || [ ! -x "$bindir/pg_ctl" ]; then
        log "PostgreSQL is not installed (Debian: postgresql): the server's PostgreSQL tests will not run"
        return 0
    fi
    local as=() parent="${TMPDIR:-/tmp}"
    if [ "$(id -u)" -eq 0 ]; then
        if ! id postgres >/dev/null 2>&1; then
            log "no 'postgres' user to run a test cluster as: the server's PostgreSQL tests will not run"
            return 0
        fi
        as=(runuser -u postgres --)
        parent=/tmp # the postgres user must reach it
    fi
    local stale
    for stale in "$parent"/homediag-pg.*; do
        [ -f "$stale/owner" ] || continue
        kill -0 "$(cat "$stale/owner")" 2>/dev/null && continue # another run's, still in use
        log "removing the test cluster a killed run left in $stale"
        "${as[@]}" "$bindir/pg_ctl" -D "$stale/data" -m immediate stop >/dev/null 2>&1 || true
        rm -rf "$stale"
    done
    local dir password port tries
    dir=$(mktemp -d "$parent/homediag-pg.XXXXXX") || return 1
    echo $$ > "$dir/owner"
    HOMEDIAG_TEST_PG_DIR=$dir
    password=$("${PYTHON:-python3}" -c 'import secrets; print(secrets.token_hex(16))')
    printf '%s\n' "$password" > "$dir/pwfile"
    chmod 700 "$dir" && chmod 600 "$dir/pwfile"
    [ "$(id -u)" -eq 0 ] && chown -R postgres: "$dir"
    if ! "${as[@]}" "$bindir/initdb" -D "$dir/data" -U homediag --pwfile="$dir/pwfile" \
        --auth=scram-sha-256 -E UTF8 --no-locale --no-sync >"$dir/initdb.log" 2>&1; then
        log "initdb failed: $(tail -n 3 "$dir/initdb.log")"
        stop_test_postgres
        return 1
    fi
    rm -f "$dir/pwfile"
    cat >> "$dir/data/postgresql.conf" <<CONF
# homediag's test cluster (scripts/lib/setup.sh start_test_postgres)
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 300
CONF
    for tries in 1 2 3 4 5; do
        port=$("${PYTHON:-python3}" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        [ "$port" -eq 5432 ] && continue
        if "${as[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
            -o "-p $port" start >/dev/null 2>&1; then
            export HOMEDIAG_TEST_PG="postgresql://homediag:$password@127.0.0.1:$port/postgres"
            log "PostgreSQL test cluster on 127.0.0.1:$port ($dir)"
            return 0
        fi
    done
    log "the PostgreSQL test cluster did not start: $(tail -n 3 "$dir/server.log" 2>/dev/null)"
    stop_test_postgres
    return 1
}

stop_test_postgres() {
    local dir=$HOMEDIAG_TEST_PG_DIR
    [ -n "$dir" ] && [ -d "$dir" ] || return 0
    local as=() bindir
    bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -z "$bindir" ] && command -v pg_config >/dev/null 2>&1 && bindir=$(pg_config --bindir)
    [ "$(id -u)" -eq 0 ] && as=(runuser -u postgres --)
    if [ -f "$dir/data/postmaster.pid" ]; then
        "${as[@]}" "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 \
            || "${as[@]}" "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    HOMEDIAG_TEST_PG_DIR=
    unset HOMEDIAG_TEST_PG
}
