/*
 * The reporter.  See report.h.
 */
#include "migrator/report.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "log/log.h"

#define CONNECT_TIMEOUT_MS 5000L
#define REQUEST_TIMEOUT_MS 10000L
/* How often a push in flight looks at the stop flag (curl_multi_wakeup
 * usually ends the wait sooner). */
#define POLL_MS        100
#define FIRST_RETRY_MS 1000
/* Enough of an error answer for its Status message. */
#define MAX_ANSWER_BYTES (16 * 1024)

struct migr_report {
    char *base;     /* orchestratord's URL, no trailing '/' */
    char *endpoint; /* base + the nodereports path */
    char *auth;     /* "Authorization: Bearer ..."; NULL: none */
    char *cacert;
    int interval_ms;

    /* The reporter thread's own. */
    CURL *easy;
    CURLM *multi;
    struct curl_slist *headers;
    char answer[MAX_ANSWER_BYTES + 1];
    size_t answer_len;

    /* Shared, under lock. */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    char *text;   /* the newest report; NULL before the first */
    bool pending; /* text not pushed yet */
    bool stop;
    struct migr_report_stats stats;

    pthread_t thread;
    bool running;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static bool curl_ok;

/* libcurl's global set-up is thread-safe since 7.84 but costs a little;
 * once per process is enough, and it stays for the process's life. */
static void curl_init(void)
{
    curl_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct timespec at_ms(long long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000,
                          .tv_nsec = (long)(ms % 1000) * 1000000};
    return ts;
}

/* ---------------------------------------------------------------------- */
/* One push                                                                */

static size_t on_answer(char *p, size_t size, size_t n, void *arg)
{
    struct migr_report *r = arg;
    size_t len = size * n, room = MAX_ANSWER_BYTES - r->answer_len;

    if (len > room)
        len = room;
    memcpy(r->answer + r->answer_len, p, len);
    r->answer_len += len;
    r->answer[r->answer_len] = '\0';
    return size * n; /* the rest is not needed, but not an error */
}

static bool stopping(struct migr_report *r)
{
    bool s;

    pthread_mutex_lock(&r->lock);
    s = r->stop;
    pthread_mutex_unlock(&r->lock);
    return s;
}

/* What went wrong with an answer: its Status message when it has one. */
static void answer_message(struct migr_report *r, long status, char *msg,
                           size_t len)
{
    json_t *j = json_loads(r->answer, 0, NULL);
    const char *m = json_string_value(json_object_get(j, "message"));

    if (m)
        snprintf(msg, len, "HTTP %ld: %s", status, m);
    else
        snprintf(msg, len, "HTTP %ld", status);
    json_decref(j);
}

/*
 * PUT `body`.  Returns 0 on a 2xx answer; otherwise a failure "kind" that
 * tells failures apart for logging (the HTTP status, or 1000 + libcurl's
 * code when no answer came) with *ret_refused set for "cannot connect",
 * and the reason in msg; or -ECANCELED when stopped meanwhile.
 */
static int push(struct migr_report *r, const char *body, long *ret_status,
                bool *ret_refused, char *msg, size_t msglen)
{
    CURLcode cc = CURLE_FAILED_INIT;
    long status = 0;
    int running = 1;
    CURLMsg *m;
    int left;

    *ret_status = 0;
    *ret_refused = false;
    r->answer_len = 0;
    r->answer[0] = '\0';
    curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE_LARGE,
                     (curl_off_t)strlen(body));
    if (curl_multi_add_handle(r->multi, r->easy) != CURLM_OK) {
        snprintf(msg, msglen, "cannot start the request");
        return 1000 + CURLE_FAILED_INIT;
    }
    /* The multi interface only so that a stop does not wait for a slow
     * orchestratord: the wait below ends on a wakeup or every POLL_MS. */
    while (running) {
        if (curl_multi_perform(r->multi, &running) != CURLM_OK)
            break;
        if (!running)
            break;
        if (stopping(r)) {
            curl_multi_remove_handle(r->multi, r->easy);
            return -ECANCELED;
        }
        curl_multi_poll(r->multi, NULL, 0, POLL_MS, NULL);
    }
    while ((m = curl_multi_info_read(r->multi, &left)))
        if (m->msg == CURLMSG_DONE && m->easy_handle == r->easy)
            cc = m->data.result;
    curl_multi_remove_handle(r->multi, r->easy);
    if (cc != CURLE_OK) {
        snprintf(msg, msglen, "%s", curl_easy_strerror(cc));
        *ret_refused = cc == CURLE_COULDNT_CONNECT;
        return 1000 + (int)cc;
    }
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    *ret_status = status;
    if (status >= 200 && status < 300)
        return 0;
    answer_message(r, status, msg, msglen);
    return status > 0 && status < 1000 ? (int)status : 999;
}

/* ---------------------------------------------------------------------- */
/* The thread                                                              */

/*
 * TEXT as it goes out as push number SEQ of this run (issue 10): a report
 * that names its run (agent.bootId) carries "bootId" and "sequence" at the
 * top level, so orchestratord can tell a stale, repeated or overtaken push
 * from the newest; the heartbeat's resends count too.  Other texts go as
 * they are.  Returns a new string or NULL (ENOMEM).
 */
static char *report_stamp(const char *text, uint64_t seq)
{
    json_t *o = json_loads(text, 0, NULL);
    const char *boot = json_string_value(
        json_object_get(json_object_get(o, "agent"), "bootId"));
    char *out = NULL;

    if (!boot || !*boot) {
        json_decref(o);
        return strdup(text);
    }
    if (json_object_set_new(o, "bootId", json_string(boot)) == 0 &&
        json_object_set_new(o, "sequence", json_integer((json_int_t)seq)) == 0)
        out = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return out;
}

static void *report_main(void *arg)
{
    struct migr_report *r = arg;
    long long last_try = 0, retry_at = 0;
    int backoff_ms = 0, fail_kind = 0;
    uint64_t fails = 0, seq = 0;
    bool delivered_once = false;

    pthread_mutex_lock(&r->lock);
    while (!r->stop) {
        long long now = now_ms(), due;
        char msg[512], *body;
        bool refused = false;
        long status = 0;
        int kind;

        if (!r->text) {
            pthread_cond_wait(&r->cond, &r->lock);
            continue;
        }
        /* Failing: the next retry, whatever came meanwhile.  Otherwise a
         * new text at once, else the heartbeat. */
        if (backoff_ms)
            due = retry_at;
        else
            due = r->pending ? now : last_try + r->interval_ms;
        if (now < due) {
            struct timespec ts = at_ms(due);
            pthread_cond_timedwait(&r->cond, &r->lock, &ts);
            continue;
        }
        body = strdup(r->text);
        r->pending = false;
        pthread_mutex_unlock(&r->lock);
        if (body) {
            char *stamped = report_stamp(body, ++seq);
            free(body);
            body = stamped;
        }

        kind = body ? push(r, body, &status, &refused, msg, sizeof(msg))
                    : 1000 + CURLE_OUT_OF_MEMORY;
        free(body);
        if (!body)
            snprintf(msg, sizeof(msg), "out of memory");
        last_try = now_ms();

        pthread_mutex_lock(&r->lock);
        if (kind == -ECANCELED)
            break;
        r->stats.attempts++;
        r->stats.last_status = (int)status;
        if (kind == 0)
            r->stats.delivered++;
        else
            r->stats.failed++;
        pthread_mutex_unlock(&r->lock);

        if (kind == 0) {
            if (fails)
                log_info("report to '%s': delivered again after %llu "
                         "failed attempts",
                         r->base, (unsigned long long)fails);
            else if (!delivered_once)
                log_info("report to '%s': delivered", r->base);
            delivered_once = true;
            fails = 0;
            fail_kind = 0;
            backoff_ms = 0;
        } else {
            fails++;
            if (kind != fail_kind)
                log_msg(refused ? LOG_LEVEL_INFO : LOG_LEVEL_WARN,
                        "report to '%s': %s; retrying quietly, at least "
                        "every %d s",
                        r->base, msg, r->interval_ms / 1000);
            fail_kind = kind;
            backoff_ms = backoff_ms ? backoff_ms * 2 : FIRST_RETRY_MS;
            if (backoff_ms > r->interval_ms)
                backoff_ms = r->interval_ms;
            retry_at = last_try + backoff_ms;
        }
        pthread_mutex_lock(&r->lock);
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* Life cycle                                                              */

int migr_report_new(const struct migr_report_opts *o, struct migr_report **ret)
{
    struct migr_report *r;
    size_t n;

    if (!o || !ret || !o->url || !o->node || !o->node[0] || o->interval_s < 1 ||
        (strncmp(o->url, "http://", 7) != 0 &&
         strncmp(o->url, "https://", 8) != 0))
        return -EINVAL;
    pthread_once(&curl_once, curl_init);
    if (!curl_ok)
        return -ENOMEM;
    r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    pthread_mutex_init(&r->lock, NULL);
    {
        /* Timed waits on the monotonic clock, as the worker's. */
        pthread_condattr_t ca;

        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&r->cond, &ca);
        pthread_condattr_destroy(&ca);
    }
    r->interval_ms = o->interval_s * 1000;
    r->base = strdup(o->url);
    if (!r->base)
        goto oom;
    n = strlen(r->base);
    while (n > 0 && r->base[n - 1] == '/')
        r->base[--n] = '\0';
    if (asprintf(&r->endpoint,
                 "%s/apis/agent.orchestrator.io/v1/nodereports/%s", r->base,
                 o->node) < 0) {
        r->endpoint = NULL;
        goto oom;
    }
    if (o->token &&
        asprintf(&r->auth, "Authorization: Bearer %s", o->token) < 0) {
        r->auth = NULL;
        goto oom;
    }
    if (o->cacert && !(r->cacert = strdup(o->cacert)))
        goto oom;
    r->easy = curl_easy_init();
    r->multi = curl_multi_init();
    if (!r->easy || !r->multi)
        goto oom;
    r->headers = curl_slist_append(NULL, "Content-Type: application/json");
    /* No "Expect: 100-continue" round trip before a large report. */
    if (r->headers)
        r->headers = curl_slist_append(r->headers, "Expect:");
    if (r->headers && r->auth)
        r->headers = curl_slist_append(r->headers, r->auth);
    if (!r->headers)
        goto oom;
    curl_easy_setopt(r->easy, CURLOPT_URL, r->endpoint);
    curl_easy_setopt(r->easy, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, on_answer);
    curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
    curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, REQUEST_TIMEOUT_MS);
    curl_easy_setopt(r->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(r->easy, CURLOPT_USERAGENT, "migrator");
    if (r->cacert)
        curl_easy_setopt(r->easy, CURLOPT_CAINFO, r->cacert);
    *ret = r;
    return 0;
oom:
    migr_report_free(r);
    return -ENOMEM;
}

void migr_report_free(struct migr_report *r)
{
    if (!r)
        return;
    migr_report_stop(r);
    if (r->multi)
        curl_multi_cleanup(r->multi);
    if (r->easy)
        curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    free(r->text);
    free(r->base);
    free(r->endpoint);
    free(r->auth);
    free(r->cacert);
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

int migr_report_start(struct migr_report *r)
{
    int e;

    if (!r)
        return -EINVAL;
    if (r->running)
        return 0;
    pthread_mutex_lock(&r->lock);
    r->stop = false;
    /* A text kept from before a stop goes out again at once. */
    r->pending = r->text != NULL;
    pthread_mutex_unlock(&r->lock);
    e = pthread_create(&r->thread, NULL, report_main, r);
    if (e != 0)
        return -e;
    r->running = true;
    return 0;
}

void migr_report_stop(struct migr_report *r)
{
    if (!r || !r->running)
        return;
    pthread_mutex_lock(&r->lock);
    r->stop = true;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
    curl_multi_wakeup(r->multi);
    pthread_join(r->thread, NULL);
    r->running = false;
}

int migr_report_submit(struct migr_report *r, const char *json)
{
    char *copy;

    if (!r || !json)
        return -EINVAL;
    copy = strdup(json);
    if (!copy)
        return -ENOMEM;
    pthread_mutex_lock(&r->lock);
    free(r->text);
    r->text = copy;
    r->pending = true;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
    return 0;
}

void migr_report_stats(struct migr_report *r, struct migr_report_stats *ret)
{
    pthread_mutex_lock(&r->lock);
    *ret = r->stats;
    pthread_mutex_unlock(&r->lock);
}
