/*
 * The admin dashboard's page (src/http/dashboard.html), built into the binary: the Makefile
 * turns the file into this array with `xxd -i`. Immutable; served as is by the admin handler.
 */
#ifndef HP_HTTP_DASHBOARD_H
#define HP_HTTP_DASHBOARD_H

extern unsigned char dashboard_html[];
extern unsigned int dashboard_html_len;

#endif
