/* The Blob service version every storage request names (x-ms-version) and
 * every SAS is signed for (sv): one value, so a SAS and the requests that
 * check it always agree. */
#ifndef STORAGE_VERSION_H
#define STORAGE_VERSION_H

#define STORAGE_SERVICE_VERSION "2022-11-02"

#endif
