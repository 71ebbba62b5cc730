#!/bin/sh
# Every prompt acd plays, spoken by espeak-ng and converted by sox to what Asterisk
# plays without transcoding: 8 kHz, mono, 16-bit WAV.
#
#   make-prompts.sh [SOUNDS_DIR [MOH_DIR]]   generate the missing ones (FORCE=1: all)
#   make-prompts.sh --list                   the prompt names, one a line
#
# SOUNDS_DIR defaults to /var/lib/asterisk/sounds/en, MOH_DIR to /var/lib/asterisk/moh
# (musiconhold.conf's class `default`). The list covers the engine's defaults
# (acd-goodbye, acd-invalid, acd-error, the callback prompts), the shipped flows
# (ivr_flows/sounds.txt), the queue announcements and spoken numbers, dates and
# durations (acd/ivr/say.py: queue-*, digits/*, letters/*), and what the dialplan
# plays when acd is away (extensions.conf). tests/test_prompts.py checks that.
# Used by config/asterisk/README.md, docker/asterisk/Dockerfile and the real-Asterisk
# test tier. Needs espeak-ng and sox (Debian: apt-get install espeak-ng sox).
set -eu

prompts() { # name|text
    cat <<'EOF'
acd-welcome|Welcome. For sales press 1. For support press 2.
acd-goodbye|Thank you for calling. Goodbye.
acd-invalid|Sorry, that is not a valid choice.
acd-error|Sorry, we cannot take your call right now. Please call again later.
acd-no-input|We did not receive your answer.
acd-blocked|Sorry, calls from your number are not accepted.
acd-closed|We are closed at the moment. Please call again during our opening hours.
acd-holiday|We are closed today for a holiday. Please call again tomorrow.
acd-welcome-hotline|Welcome to the hotline.
acd-main-menu|For sales press 1. For support press 2. For billing press 3. For your order status press 4. To leave a message press 5. Pour le français, appuyez sur le 9.
acd-leave-message|Please leave your message after the tone, then hang up.
acd-enter-order-number|Please enter your order number, followed by the pound key.
acd-invalid-order-number|That order number is not valid.
acd-order-shipped|Your order has been shipped. It will arrive in
acd-days|days.
acd-order-preparing|Your order is being prepared.
acd-order-not-found|We could not find that order.
acd-service-unavailable|Sorry, this service is not available at the moment.
acd-welcome-key-client|Welcome back. We are connecting you to your account manager.
acd-emergency|You have reached the emergency line. Please hold for the next available agent.
acd-enter-card-number|Please enter your card number, followed by the pound key.
acd-invalid-card|That card number is not valid.
acd-enter-expiry|Please enter the card's expiry date, month and year, four digits.
acd-payment-accepted|Thank you. Your payment has been accepted.
acd-payment-failed|Sorry, your payment could not be completed.
acd-callback-offer|To be called back without losing your place in the queue, press 1.
acd-callback-confirmed|Thank you. We will call you back.
acd-callback-connecting|This is your call back. Please hold while we connect you.
hello-world|Hello world.
queue-thankyou|Thank you for your patience.
queue-youarenext|Your call is now first in line and will be answered by the next available representative.
queue-thereare|You are currently caller number
queue-callswaiting|waiting to speak to a representative.
queue-holdtime|The estimated hold time is currently
queue-less-than|less than
queue-minute|minute.
queue-minutes|minutes.
queue-seconds|seconds.
pls-hold-while-try|Please hold while I try that extension.
vm-goodbye|Goodbye.
hour|hour
hours|hours
minute|minute
minutes|minutes
second|second
seconds|seconds
digits/hundred|hundred
digits/thousand|thousand
digits/million|million
digits/minus|minus
digits/star|star
digits/pound|pound
digits/dash|dash
digits/plus|plus
digits/day-0|Sunday
digits/day-1|Monday
digits/day-2|Tuesday
digits/day-3|Wednesday
digits/day-4|Thursday
digits/day-5|Friday
digits/day-6|Saturday
digits/mon-0|January
digits/mon-1|February
digits/mon-2|March
digits/mon-3|April
digits/mon-4|May
digits/mon-5|June
digits/mon-6|July
digits/mon-7|August
digits/mon-8|September
digits/mon-9|October
digits/mon-10|November
digits/mon-11|December
digits/h-1|first
digits/h-2|second
digits/h-3|third
digits/h-4|fourth
digits/h-5|fifth
digits/h-6|sixth
digits/h-7|seventh
digits/h-8|eighth
digits/h-9|ninth
digits/h-10|tenth
digits/h-11|eleventh
digits/h-12|twelfth
digits/h-13|thirteenth
digits/h-14|fourteenth
digits/h-15|fifteenth
digits/h-16|sixteenth
digits/h-17|seventeenth
digits/h-18|eighteenth
digits/h-19|nineteenth
digits/h-20|twentieth
digits/h-30|thirtieth
EOF
    for n in 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 30 40 50 60 70 80 90; do
        echo "digits/$n|$n"
    done
    for l in a b c d e f g h i j k l m n o p q r s t u v w x y z; do
        echo "letters/$l|$l"
    done
}

if [ "${1:-}" = "--list" ]; then
    prompts | cut -d'|' -f1
    echo beep
    exit 0
fi

SOUNDS=${1:-/var/lib/asterisk/sounds/en}
MOH=${2:-/var/lib/asterisk/moh}
FORCE=${FORCE:-0}
for tool in espeak-ng sox; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "make-prompts: $tool is missing (Debian: apt-get install espeak-ng sox)" >&2; exit 1; }
done
tmp=$(mktemp --suffix=.wav)
trap 'rm -f "$tmp"' EXIT
made=0
prompts | while IFS='|' read -r name text; do
    out="$SOUNDS/$name.wav"
    [ "$FORCE" != 1 ] && [ -s "$out" ] && continue
    mkdir -p "$(dirname "$out")"
    espeak-ng -v en-us -s 150 -w "$tmp" "$text"
    sox -q "$tmp" -r 8000 -c 1 -b 16 -e signed-integer "$out"
    made=$((made + 1))
    echo "$made" >"$tmp.count"
done
mkdir -p "$SOUNDS" "$MOH"
if [ "$FORCE" = 1 ] || ! [ -s "$SOUNDS/beep.wav" ]; then
    sox -q -n -r 8000 -c 1 -b 16 -e signed-integer "$SOUNDS/beep.wav" synth 0.25 sine 1000 vol 0.5
fi
if [ "$FORCE" = 1 ] || ! [ -s "$MOH/tone.wav" ]; then
    sox -q -n -r 8000 -c 1 -b 16 -e signed-integer "$MOH/tone.wav" synth 10 sine 440 vol 0.3
fi
made=$(cat "$tmp.count" 2>/dev/null || echo 0)
rm -f "$tmp.count"
echo "make-prompts: $made prompt(s) generated, $(prompts | wc -l | tr -d ' ') + beep in $SOUNDS, music on hold in $MOH"
