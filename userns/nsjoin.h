#ifndef CRUNLITE_NSJOIN_H
#define CRUNLITE_NSJOIN_H

extern int crunlite_joined;
extern long long crunlite_ctor_ns;
extern int crunlite_host_uid;
extern int crunlite_host_gid;
extern char crunlite_join_error[256];
const char *crunlite_value_flag(int i);

#endif
