/* tool_holdlock - holds a scriptbuild cache's LMDB writer lock until killed, so that a test can make a run wait on
 * its cache for as long as it likes (to send it signals while it waits):
 *
 *   tool_holdlock CACHE_DIR
 *
 * Prints "held" on stdout once the write transaction is open; exit 2 when the cache cannot be opened. */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <lmdb.h>

int main(int argc, char **argv)
{
	MDB_env *env;
	MDB_txn *txn;
	if (argc != 2) {
		fputs("usage: tool_holdlock CACHE_DIR\n", stderr);
		return 2;
	}
	int rc = mdb_env_create(&env);
	if (rc == 0)
		rc = mdb_env_set_maxdbs(env, 16);
	if (rc == 0)
		rc = mdb_env_open(env, argv[1], 0, 0600);
	if (rc == 0)
		rc = mdb_txn_begin(env, NULL, 0, &txn);
	if (rc != 0) {
		fprintf(stderr, "tool_holdlock: %s: %s\n", argv[1], mdb_strerror(rc));
		return 2;
	}
	puts("held");
	fflush(stdout);
	for (;;)
		pause();
}
