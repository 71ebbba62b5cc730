#!/bin/sh
# The secrets the shipped configuration leaves out, generated for this installation.
#
#   make-secrets.sh [ASTERISK_DIR]      (default: this folder, config/asterisk)
#
# Writes, each readable by its owner only, and never committed (.gitignore):
#   ASTERISK_DIR/pjsip_wizard_secrets.conf  the agents' phones agent100..agent299, each with
#                                           its own password (pjsip_wizard.conf includes it)
#   ASTERISK_DIR/ari_secrets.conf           ARI user `acd` and its password (ari.conf includes it)
#   config/secrets.env                      ACD_ARI_PASSWORD and ACD_PG_PASSWORD, for acd
#                                           (ACD_SECRETS_ENV to write it elsewhere)
#   docker/.env                             the same, read by docker compose
#                                           (ACD_DOCKER_ENV; empty: not written)
# A file already there is kept, so running it again changes no password; FORCE=1
# makes new ones. Passwords are 32 random letters and digits (about 190 bits).
# Without these files Asterisk has no agent endpoint and no ARI user: nothing ships
# a password anyone could read in the repository.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
DIR=${1:-$HERE}
ENV_FILE=${ACD_SECRETS_ENV:-$REPO/config/secrets.env}
DOCKER_ENV=${ACD_DOCKER_ENV-$REPO/docker/.env}
FIRST=${ACD_AGENT_FIRST:-100}
LAST=${ACD_AGENT_LAST:-299}
FORCE=${FORCE:-0}

secret() { LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32; }
fresh() { [ "$FORCE" = 1 ] || ! [ -s "$1" ]; }
umask 077
mkdir -p "$DIR" "$(dirname "$ENV_FILE")"

ari_password=""
pg_password=""
if ! fresh "$ENV_FILE"; then  # keep the passwords already handed out
    ari_password=$(sed -n 's/^ACD_ARI_PASSWORD=//p' "$ENV_FILE")
    pg_password=$(sed -n 's/^ACD_PG_PASSWORD=//p' "$ENV_FILE")
fi
[ -n "$ari_password" ] || ari_password=$(secret)
[ -n "$pg_password" ] || pg_password=$(secret)

write_env() {
    cat >"$1" <<EOF
# Written by config/asterisk/make-secrets.sh: keep it out of version control.
ACD_ARI_PASSWORD=$ari_password
ACD_PG_PASSWORD=$pg_password
EOF
}
write_env "$ENV_FILE"
if [ -n "$DOCKER_ENV" ] && [ -d "$(dirname "$DOCKER_ENV")" ]; then
    write_env "$DOCKER_ENV"
fi

if fresh "$DIR/ari_secrets.conf"; then
    cat >"$DIR/ari_secrets.conf" <<EOF
; Written by config/asterisk/make-secrets.sh (included by ari.conf): keep it secret.
[acd]
type = user
read_only = no
password = $ari_password
password_format = plain
EOF
fi

if fresh "$DIR/pjsip_wizard_secrets.conf"; then
    {
        echo "; Written by config/asterisk/make-secrets.sh (included by pjsip_wizard.conf)."
        echo "; Each agent's phone registers as agentNNN with its own password: keep it secret."
        n=$FIRST
        while [ "$n" -le "$LAST" ]; do
            printf '[agent%s](agent-phone)\ninbound_auth/username = agent%s\ninbound_auth/password = %s\n' \
                "$n" "$n" "$(secret)"
            n=$((n + 1))
        done
    } >"$DIR/pjsip_wizard_secrets.conf"
fi

echo "make-secrets: agents' SIP passwords in $DIR/pjsip_wizard_secrets.conf"
echo "make-secrets: ARI user acd in $DIR/ari_secrets.conf"
echo "make-secrets: ACD_ARI_PASSWORD and ACD_PG_PASSWORD for acd in $ENV_FILE"
if [ -n "$DOCKER_ENV" ] && [ -d "$(dirname "$DOCKER_ENV")" ]; then
    echo "make-secrets: the same for docker compose in $DOCKER_ENV"
fi
