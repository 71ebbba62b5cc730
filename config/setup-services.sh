#!/bin/sh
# Make sure the Redis and PostgreSQL acd is configured to use are up.
# Used by `make run` and `make test`.
#
# It follows the configured addresses: ACD_REDIS_URL and ACD_PG_DSN (defaults: those
# of config/acd.yaml, redis://127.0.0.1:6379/0 and postgresql://postgres@127.0.0.1:5432/acd).
#   - A service already answering there is left alone.
#   - A service on another machine is only checked: it is never installed or started,
#     and the script fails with what to do when it does not answer.
#   - On this machine it installs the Debian packages if missing and starts the
#     service on the configured port. It edits pg_hba.conf (trust on loopback, for a
#     development machine) only for a PostgreSQL cluster it installed or started
#     itself (remembered in var/setup-services.state).
# ACD_SETUP_DRY_RUN=1 prints what it would do instead of doing it.
# It also installs Debian's Chromium for the browser tests when it is missing.
set -eu

REDIS_URL=${ACD_REDIS_URL:-redis://127.0.0.1:6379/0}
PG_DSN=${ACD_PG_DSN:-postgresql://postgres@127.0.0.1:5432/acd}
STATE_DIR=${ACD_SETUP_STATE_DIR:-var}
STATE=$STATE_DIR/setup-services.state
DRY=${ACD_SETUP_DRY_RUN:-0}

say() { echo "setup: $*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
act() { # a change to this machine: done, or only shown in a dry run
    if [ "$DRY" = 1 ]; then say "would run: $*"; else as_root "$@"; fi
}
remember() { # what this script itself installed or started
    [ "$DRY" = 1 ] && return 0
    mkdir -p "$STATE_DIR" && echo "$1" >>"$STATE"
}
remembered() { [ -f "$STATE" ] && grep -qx "$1" "$STATE"; }

# host and port of a URL (python3 parses what sh cannot: IPv6, user:password@...)
url_part() {
    python3 -c 'import sys, urllib.parse as u
p = u.urlsplit(sys.argv[1])
print(p.hostname or "127.0.0.1" if sys.argv[2] == "host" else p.port or int(sys.argv[3]))' "$1" "$2" "$3"
}
is_local() { case "$1" in 127.*|localhost|::1|"") return 0;; *) return 1;; esac; }

REDIS_HOST=$(url_part "$REDIS_URL" host 6379)
REDIS_PORT=$(url_part "$REDIS_URL" port 6379)
PG_HOST=$(url_part "$PG_DSN" host 5432)
PG_PORT=$(url_part "$PG_DSN" port 5432)
PG_ADMIN_DSN="${PG_DSN%/*}/postgres"

install_pkgs() { # packages...
    say "installing $* from Debian packages"
    act apt-get update -qq
    act env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

# ---- Chromium (browser tests; Playwright drives Debian's, no browser download)
if ! [ -x /usr/bin/chromium ]; then
    install_pkgs chromium
fi

# ---- Redis
redis_up() { command -v redis-cli >/dev/null 2>&1 && redis-cli -u "$REDIS_URL" ping >/dev/null 2>&1; }
if redis_up; then
    say "Redis at $REDIS_HOST:$REDIS_PORT is up (left as it is)"
elif ! is_local "$REDIS_HOST"; then
    say "Redis at $REDIS_HOST:$REDIS_PORT (ACD_REDIS_URL) does not answer; it is not on this" \
        "machine, so setup does not start it: start it there or fix ACD_REDIS_URL" >&2
    exit 1
else
    if ! command -v redis-server >/dev/null 2>&1; then
        install_pkgs redis-server
        remember redis-installed
    fi
    say "starting Redis on 127.0.0.1:$REDIS_PORT"
    if [ "$(id -u)" = 0 ]; then dir=/var/lib/redis; log=/var/log/redis/acd-$REDIS_PORT.log
    else
        case $STATE_DIR in /*) dir=$STATE_DIR/redis;; *) dir=$PWD/$STATE_DIR/redis;; esac
        log=$dir/redis.log
    fi
    [ "$DRY" = 1 ] || mkdir -p "$dir" "$(dirname "$log")"
    # As this user when not root: a development Redis needs no privilege.
    if [ "$DRY" = 1 ]; then say "would run: redis-server --port $REDIS_PORT --dir $dir"
    else
        redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" \
            --appendonly no --dir "$dir" --logfile "$log"
    fi
    remember "redis-started:$REDIS_PORT"
fi

# ---- PostgreSQL
pg_cluster() { # "version name" of this machine's Debian cluster on the configured port
    pg_lsclusters -h 2>/dev/null | awk -v p="$PG_PORT" '$3 == p {print $1 " " $2; exit}'
}
pg_up() { command -v pg_isready >/dev/null 2>&1 && pg_isready -h "$PG_HOST" -p "$PG_PORT" -q; }
pg_usable() { psql "$PG_ADMIN_DSN" -Atc 'select 1' >/dev/null 2>&1; }
if pg_up; then
    say "PostgreSQL at $PG_HOST:$PG_PORT is up"
elif ! is_local "$PG_HOST"; then
    say "PostgreSQL at $PG_HOST:$PG_PORT (ACD_PG_DSN) does not answer; it is not on this" \
        "machine, so setup does not start it: start it there or fix ACD_PG_DSN" >&2
    exit 1
else
    if ! command -v pg_ctlcluster >/dev/null 2>&1; then
        install_pkgs postgresql
        remember postgres-installed
    fi
    # The Debian cluster that listens on the configured port.
    cluster=$(pg_cluster)
    if [ -z "$cluster" ]; then
        say "no PostgreSQL cluster of this machine uses port $PG_PORT (ACD_PG_DSN);" \
            "create one (pg_createcluster -p $PG_PORT ...) or fix ACD_PG_DSN" >&2
        exit 1
    fi
    say "starting PostgreSQL cluster $cluster on port $PG_PORT"
    # shellcheck disable=SC2086 # "version name"
    act pg_ctlcluster --skip-systemctl-redirect $cluster start || true
    remember "postgres-started:$PG_PORT"
    for _ in 1 2 3 4 5 6 7 8 9 10; do pg_up && break; [ "$DRY" = 1 ] && break; sleep 1; done
fi

# acd connects over TCP; a fresh Debian cluster needs trust (or a password) on
# loopback for that. Only a cluster this script installed or started is changed.
if [ "$DRY" != 1 ] && ! pg_usable; then
    if is_local "$PG_HOST" && { remembered postgres-installed || remembered "postgres-started:$PG_PORT"; }; then
        cluster=$(pg_cluster)
        hba="/etc/postgresql/$(echo "$cluster" | tr ' ' /)/pg_hba.conf"
        say "allowing trust auth on loopback in $hba (a cluster setup started; development machine)"
        as_root sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
        # shellcheck disable=SC2086 # "version name"
        as_root pg_ctlcluster --skip-systemctl-redirect $cluster reload
    else
        say "PostgreSQL at $PG_HOST:$PG_PORT answers but refuses acd's user (ACD_PG_DSN): setup did" \
            "not start it, so it leaves its authentication alone; give acd a user and" \
            "password in ACD_PG_DSN" >&2
        exit 1
    fi
fi

if [ "$DRY" = 1 ]; then say "dry run: nothing changed"; exit 0; fi
redis_up && pg_up && say "Redis ($REDIS_HOST:$REDIS_PORT) and PostgreSQL ($PG_HOST:$PG_PORT) are up"
