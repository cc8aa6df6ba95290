/* The release of hotpath this tree builds. */
#ifndef HP_CORE_VERSION_H
#define HP_CORE_VERSION_H

#define HP_VERSION "0.1.0"

#endif
