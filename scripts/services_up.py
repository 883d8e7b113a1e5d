"""Exit 0 when the PostgreSQL and Redis servers named on the command line answer."""

import sys

import psycopg
import redis


def main(pg_url: str, redis_url: str) -> int:
    try:
        psycopg.connect(pg_url.replace("postgres://", "postgresql://", 1), connect_timeout=3).close()
        redis.Redis.from_url(redis_url, socket_connect_timeout=3).ping()
    except (psycopg.Error, redis.RedisError, OSError) as exc:
        print(f"server leg: {exc.__class__.__name__}: {str(exc).strip().splitlines()[0] if str(exc) else ''}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
