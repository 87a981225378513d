/*
 * The checkpointer thread (see checkpoint.h for why).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>

#include <sqlite3.h>

#include "store/checkpoint.h"
#include "store/schema.h"

struct store_ckpt {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool pending; /* a checkpoint was asked for */
    bool stop;
    sqlite3 *db; /* used by the thread only */
};

static void *ckpt_main(void *arg)
{
    struct store_ckpt *c = arg;

    pthread_mutex_lock(&c->lock);
    for (;;) {
        while (!c->pending && !c->stop)
            pthread_cond_wait(&c->wake, &c->lock);
        if (c->stop)
            break;
        c->pending = false;
        pthread_mutex_unlock(&c->lock);
        /* PASSIVE copies what it can without waiting for any lock.  A busy
         * result (another checkpoint running, a writer restarting the WAL)
         * is harmless: the next commit past the threshold asks again. */
        sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL,
                                  NULL);
        pthread_mutex_lock(&c->lock);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

int store_ckpt_start(const char *path, struct store_ckpt **ret_ckpt)
{
    struct store_ckpt *c = calloc(1, sizeof(*c));
    sigset_t all, old;
    int rc, r;

    if (!c)
        return -ENOMEM;
    /* NOMUTEX: only the thread uses this connection. */
    rc = sqlite3_open_v2(path, &c->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    /* A connection learns that the file is in WAL mode when it first
     * reads it; until then a checkpoint does nothing. */
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(c->db, "SELECT count(*) FROM sqlite_master", NULL,
                          NULL, NULL);
    if (rc != SQLITE_OK) {
        r = store_errno(rc);
        sqlite3_close(c->db);
        free(c);
        return r < 0 ? r : -EIO;
    }
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->wake, NULL);
    /* The thread takes no signals: they belong to the daemon's loop. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    r = pthread_create(&c->thread, NULL, ckpt_main, c);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r != 0) {
        pthread_cond_destroy(&c->wake);
        pthread_mutex_destroy(&c->lock);
        sqlite3_close(c->db);
        free(c);
        return -EAGAIN;
    }
    *ret_ckpt = c;
    return 0;
}

void store_ckpt_request(struct store_ckpt *c)
{
    pthread_mutex_lock(&c->lock);
    c->pending = true;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
}

void store_ckpt_stop(struct store_ckpt *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    c->stop = true;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
    pthread_cond_destroy(&c->wake);
    pthread_mutex_destroy(&c->lock);
    sqlite3_close(c->db);
    free(c);
}
