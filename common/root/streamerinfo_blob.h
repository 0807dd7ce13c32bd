/* streamerinfo_blob.h - ROOT's StreamerInfo record payload for TTree files we write.
 *
 * rootwrite.c writes it verbatim behind a TKey of fKeyLen STREAMERINFO_BLOB_KEYLEN with
 * fObjLen STREAMERINFO_BLOB_OBJLEN (the payload is ROOT-zlib-compressed blocks). See
 * streamerinfo_blob.c for where the bytes come from and why they are copied whole. */
#ifndef MLHEP_STREAMERINFO_BLOB_H
#define MLHEP_STREAMERINFO_BLOB_H

#define STREAMERINFO_BLOB_LEN 4520
#define STREAMERINFO_BLOB_OBJLEN 17218
#define STREAMERINFO_BLOB_KEYLEN 64
#define STREAMERINFO_BLOB_NCLASSES 24

extern const unsigned char streamerinfo_blob[STREAMERINFO_BLOB_LEN];

#endif
