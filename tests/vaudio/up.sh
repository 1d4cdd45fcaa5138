#!/usr/bin/env bash
# Start a virtual sound card for the trainer's real-audio tests (headless, no hardware).
#
# A PulseAudio daemon in user mode (works as root, without systemd or D-Bus) holds:
#   vspeaker    null sink, the DEFAULT OUTPUT: the trainer's speech lands here and a
#               test records it back from "vspeaker.monitor"
#   vmic_feed   null sink a test plays an answer into (paplay --device=vmic_feed a.wav)
#   vmic        virtual source reading vmic_feed.monitor, the DEFAULT INPUT the
#               trainer records from
#   vsilence    null source looped into both sinks at 20 ms latency, so the sinks keep
#               rendering in small blocks (an idle null sink renders in ~2 s chunks,
#               which makes the first capture callback arrive a second or more late)
# PortAudio reaches the daemon through ALSA's "pulse"/"default" devices
# (libasound2-plugins), as long as PULSE_SERVER names the socket.
#
# Idempotent: when a healthy card already runs, nothing is started.
# Environment:
#   VAUDIO_DIR            runtime folder (socket, pid, log); default /tmp/interviewer-vaudio
#   VAUDIO_CLIENT_CONF=1  also write a PulseAudio client drop-in naming the socket, so
#                         programs find the card without PULSE_SERVER (changes /etc)
# On success prints the PULSE_SERVER value and writes "$VAUDIO_DIR/env" to source.
set -euo pipefail

DIR="${VAUDIO_DIR:-/tmp/interviewer-vaudio}"
SOCK="$DIR/native"
DROPIN=/etc/pulse/client.conf.d/99-interviewer-vaudio.conf
PACKAGES="pulseaudio pulseaudio-utils libasound2-plugins libportaudio2 alsa-utils"
export PULSE_SERVER="unix:$SOCK"
export PULSE_RUNTIME_PATH="$DIR/run" PULSE_STATE_PATH="$DIR/state"

missing=""
for tool in pulseaudio pactl paplay parec; do
  command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
if [ -n "$missing" ]; then
  echo "vaudio up: missing:$missing. Install with:" >&2
  echo "  sudo apt-get install -y --no-install-recommends $PACKAGES" >&2
  exit 2
fi

card_ready() {
  pactl info >/dev/null 2>&1 || return 1
  pactl list short sinks 2>/dev/null | grep -qw vspeaker || return 1
  pactl list short sinks 2>/dev/null | grep -qw vmic_feed || return 1
  pactl list short sources 2>/dev/null | grep -qw vmic
}

client_dropin() {
  if [ "${VAUDIO_CLIENT_CONF:-0}" = 1 ] && [ -d /etc/pulse/client.conf.d ]; then
    printf 'default-server = %s\nautospawn = no\n' "$PULSE_SERVER" > "$DROPIN"
  fi
}

if card_ready; then
  client_dropin
  echo "vaudio: already up, PULSE_SERVER=$PULSE_SERVER"
  exit 0
fi

# A daemon of ours that is still alive but unhealthy: stop exactly that process.
if [ -f "$DIR/daemon.pid" ]; then
  stale="$(cat "$DIR/daemon.pid" 2>/dev/null || true)"
  if [ -n "$stale" ] && kill -0 "$stale" 2>/dev/null; then
    kill "$stale" 2>/dev/null || true
    sleep 0.3
  fi
fi
rm -rf "$DIR/run" "$SOCK"
mkdir -p "$DIR/run" "$DIR/state"
chmod 700 "$DIR" "$DIR/run"

cat > "$DIR/card.pa" <<PA
load-module module-native-protocol-unix auth-anonymous=1 socket=$SOCK
load-module module-null-sink sink_name=vspeaker sink_properties=device.description=Virtual_Speaker
load-module module-null-sink sink_name=vmic_feed sink_properties=device.description=Virtual_Mic_Feed
load-module module-virtual-source source_name=vmic master=vmic_feed.monitor source_properties=device.description=Virtual_Microphone
load-module module-null-source source_name=vsilence
load-module module-loopback source=vsilence sink=vmic_feed latency_msec=20 source_dont_move=true sink_dont_move=true
load-module module-loopback source=vsilence sink=vspeaker latency_msec=20 source_dont_move=true sink_dont_move=true
set-default-sink vspeaker
set-default-source vmic
PA

# -n: do not read the system default.pa (no hardware probing, no D-Bus modules).
pulseaudio --daemonize=yes -n --file="$DIR/card.pa" \
  --exit-idle-time=-1 --disallow-exit=yes --use-pid-file=yes \
  --realtime=no --high-priority=no --log-level=notice --log-target="file:$DIR/daemon.log"

for _ in $(seq 1 50); do
  card_ready && break
  sleep 0.1
done
if ! card_ready; then
  echo "vaudio up: PulseAudio did not start; its log follows" >&2
  cat "$DIR/daemon.log" >&2 2>/dev/null || true
  exit 1
fi
cp "$DIR/run/pid" "$DIR/daemon.pid" 2>/dev/null || true

# Warm-up: wait until each monitor delivers 10 ms of audio within 0.3 s, i.e. the
# sinks render at the loopbacks' low latency (about 2 s after start).
for source in vmic vspeaker.monitor; do
  for _ in $(seq 1 30); do
    got=$(timeout 0.3 parec --device="$source" --raw --rate=16000 --channels=1 \
          --format=s16le --latency-msec=10 2>/dev/null | head -c 320 | wc -c || true)
    [ "${got:-0}" -ge 320 ] && break
  done
done

client_dropin
printf 'export PULSE_SERVER=%q\n' "$PULSE_SERVER" > "$DIR/env"
echo "vaudio: up (pid $(cat "$DIR/daemon.pid" 2>/dev/null || echo '?')), PULSE_SERVER=$PULSE_SERVER"
echo "vaudio: speak into the mic with: paplay --device=vmic_feed answer.wav"
echo "vaudio: hear the trainer with:   parec --device=vspeaker.monitor"
