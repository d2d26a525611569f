# shellcheck shell=bash
# benches/load/nginx.sh: nginx for the load scripts (run.sh, callgrind.sh, edge.sh,
# forward-auth.sh). Source it after .ci/lib.sh:
#
#   bench_nginx DIR WORKERS HTTP_BODY
#       writes DIR/nginx.conf (in the foreground, WORKERS workers, no access log, keep-alive
#       without a request limit, every temporary path in DIR) around HTTP_BODY, the content of
#       its `http {}` block; starts nginx in the background and sets NGINX_PID. The caller
#       stops it (stop_pids QUIT, nginx's graceful stop). Start-up errors go to DIR/start.err.
bench_nginx() {
    local dir=$1 workers=$2 body=$3
    mkdir -p "$dir"
    cat >"$dir/nginx.conf" <<NGINX
daemon off;
worker_processes $workers;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $dir; proxy_temp_path $dir; fastcgi_temp_path $dir;
    uwsgi_temp_path $dir; scgi_temp_path $dir;
    $body
}
NGINX
    nginx -c "$dir/nginx.conf" -p "$dir" 2>"$dir/start.err" &
    # The result, read by the sourcing script.
    # shellcheck disable=SC2034
    NGINX_PID=$!
}
