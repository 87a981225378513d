/*
 * orchctl: the command-line client of orchestratord.  Everything but
 * libcurl's global set-up lives in orchctl/ (see orchctl.h).
 */
#include <stdio.h>

#include <curl/curl.h>

#include "orchctl/orchctl.h"

int main(int argc, char **argv)
{
    int rc;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "error: cannot initialise libcurl\n");
        return ORCHCTL_EXIT_FAILED;
    }
    rc = orchctl_main(argc, argv, stdout, stderr);
    curl_global_cleanup();
    return rc;
}
