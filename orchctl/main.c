/*
 * orchctl: placeholder entry point until its issue lands.
 */
#include <stdio.h>

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "orchctl: not implemented yet\n");
    return 1;
}
