#!/usr/bin/env bash
# Sourced, not run:  . scripts/load-dotenv.sh && load_dotenv_defaults .env
# Exports every NAME=value of a dotenv file that the environment does not already set:
# what a user sets in the environment wins, as with docker compose and python-dotenv
# (and Taskyard's own Settings, which read .env the same way). Understands comments,
# `export NAME=value`, and values in single or double quotes.

load_dotenv_defaults() {
  local file=$1 line name value
  [[ -f "$file" ]] || return 0
  while IFS= read -r line || [[ -n "$line" ]]; do
    [[ "$line" =~ ^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || continue
    name=${BASH_REMATCH[2]}
    value=${BASH_REMATCH[3]}
    [[ -n "${!name+set}" ]] && continue
    if [[ "$value" =~ ^\"(.*)\"[[:space:]]*$ || "$value" =~ ^\'(.*)\'[[:space:]]*$ ]]; then
      value=${BASH_REMATCH[1]}
    else
      value=${value%%[[:space:]]#*}
      value=${value%"${value##*[![:space:]]}"}
    fi
    export "$name=$value"
  done <"$file"
}
