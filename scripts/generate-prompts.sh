#!/usr/bin/env bash
# Regenerates the caller prompts (sip-connector/calls/prompts/*.wav) from their text with espeak-ng,
# as 8 kHz mono 16-bit WAV: the rate phone legs are mixed at. The WAVs are committed; run this only
# to change a text or voice (needs Debian's espeak-ng and sox).
set -euo pipefail
out="$(cd "$(dirname "$0")/.." && pwd)/sip-connector/calls/prompts"
mkdir -p "$out"
declare -A prompts=(
  [enter-pin]="Welcome. Please enter the conference PIN, followed by the pound key."
  [wrong-pin]="That PIN is not correct. Please try again."
  [goodbye]="Sorry, that PIN is not correct. Goodbye."
)
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
for name in "${!prompts[@]}"; do
  espeak-ng -v en-us -s 150 -w "$tmp/$name.wav" "${prompts[$name]}"
  sox "$tmp/$name.wav" -r 8000 -c 1 -b 16 "$out/$name.wav" norm -3
  echo "$out/$name.wav"
done
