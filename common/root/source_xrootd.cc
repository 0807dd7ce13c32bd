// source_xrootd.cc - the extern "C" shim over XrdCl::File (see source_xrootd.h).
//
// Only this file is C++: it turns XrdCl calls and statuses into plain C results.
// Everything that decides (retries, splitting, messages with the URL) is in
// source_xrd.c. XrdCl methods are warn_unused_result: every status is assigned.
#include "root/source_xrootd.h"

#include <XrdCl/XrdClDefaultEnv.hh>
#include <XrdCl/XrdClFile.hh>
#include <XrdCl/XrdClStatus.hh>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <new>
#include <string>

struct xrdc_file {
    XrdCl::File f;
};

// kXR error numbers (XProtocol.hh) the classification needs.
enum { KXR_NOT_AUTHORIZED = 3010, KXR_NOT_FOUND = 3011, KXR_IS_DIRECTORY = 3016 };

static int fail(xrdc_status *st, const XrdCl::XRootDStatus &s)
{
    using namespace XrdCl;
    std::string why;
    st->retry = 1;
    st->conn = 0;
    st->code = MLHEP_ENET;
    if (s.code == errErrorResponse) {
        why = s.GetErrorMessage();
        while (!why.empty() && (why.back() == '\n' || why.back() == ' '))
            why.pop_back();
        if (s.errNo == KXR_NOT_FOUND) {
            st->code = MLHEP_ENOTFOUND;
            st->retry = 0;
        } else if (s.errNo == KXR_NOT_AUTHORIZED) {
            st->code = MLHEP_EAUTH; // the server said no: asking again will not change that
            st->retry = 0;
        } else if (s.errNo == KXR_IS_DIRECTORY) {
            st->code = MLHEP_EIO;
            st->retry = 0;
        }
    } else if (s.code == errAuthFailed || s.code == errLoginFailed) {
        st->code = MLHEP_EAUTH; // no or a refused credential, a CA not trusted: final
        st->retry = 0;
        why = s.ToString() + " (credentials: X509_USER_PROXY / remote_x509_proxy, X509_CERT_DIR / remote_ca_dir, "
                             "BEARER_TOKEN_FILE / remote_token_path; the security plugins must be installed)";
    } else if (s.code == errHandShakeFailed) {
        st->code = MLHEP_EAUTH;
        why = s.ToString();
    } else if (s.code == errOperationExpired || s.code == errSocketTimeout) {
        why = "timed out";
    } else if (s.code == errConnectionError || Status::IsSocketError(s.code)) {
        st->conn = 1;
        why = s.errNo ? strerror((int)s.errNo) : "connection error";
    } else if (s.code == errInvalidArgs || s.code == errNotSupported || s.code == errInvalidOp) {
        st->retry = 0;
        st->code = MLHEP_EIO;
        why = s.ToString();
    } else {
        why = s.ToString();
        if (s.errNo && s.errNo < 1000)
            why += std::string(" (") + strerror((int)s.errNo) + ")";
    }
    snprintf(st->msg, sizeof st->msg, "%s", why.c_str());
    return st->code;
}

static std::once_flag config_once;

void xrdc_configure(unsigned timeout_s)
{
    std::call_once(config_once, [timeout_s] {
        XrdCl::Env *env = XrdCl::DefaultEnv::GetEnv();
        int t = timeout_s ? (int)timeout_s : 30;
        // PutInt returns false (and changes nothing) when XRD_* is set in the shell.
        bool ok = env->PutInt("ConnectionRetry", 1);
        ok = env->PutInt("ConnectionWindow", t) && ok;
        ok = env->PutInt("RequestTimeout", t) && ok;
        ok = env->PutInt("StreamTimeout", t) && ok;
        ok = env->PutInt("TimeoutResolution", 1) && ok;
        ok = env->PutInt("StreamErrorWindow", 0) && ok;
        // One event loop: logins (the GSI plugin's, which keeps the proxy path of the
        // login under way in a process-wide variable) then never run two at a time, so
        // each connection logs in with the proxy its URL names (source_open_xrootd).
        ok = env->PutInt("ParallelEvtLoop", 1) && ok;
        (void)ok;
    });
}

extern "C" int xrdc_open(const char *url, unsigned timeout_s, xrdc_file **out, uint64_t *size, xrdc_status *st)
{
    *out = nullptr;
    xrdc_file *x = new (std::nothrow) xrdc_file;
    if (!x) {
        st->code = MLHEP_ENOMEM;
        st->retry = 0;
        snprintf(st->msg, sizeof st->msg, "out of memory");
        return st->code;
    }
    XrdCl::XRootDStatus s = x->f.Open(url, XrdCl::OpenFlags::Read, XrdCl::Access::None, (uint16_t)timeout_s);
    if (!s.IsOK()) {
        delete x;
        return fail(st, s);
    }
    XrdCl::StatInfo *si = nullptr;
    s = x->f.Stat(false, si, (uint16_t)timeout_s);
    if (!s.IsOK() || !si) {
        delete si;
        int rc = fail(st, s);
        XrdCl::XRootDStatus c = x->f.Close((uint16_t)timeout_s);
        (void)c.IsOK();
        delete x;
        return rc;
    }
    *size = si->GetSize();
    delete si;
    *out = x;
    return 0;
}

extern "C" int xrdc_read(xrdc_file *x, uint64_t off, uint32_t len, void *buf, unsigned timeout_s, uint32_t *got,
                         xrdc_status *st)
{
    *got = 0;
    XrdCl::XRootDStatus s = x->f.Read(off, len, buf, *got, (uint16_t)timeout_s);
    if (!s.IsOK())
        return fail(st, s);
    return 0;
}

extern "C" int xrdc_readv(xrdc_file *x, const xrdc_chunk *c, size_t n, unsigned timeout_s, xrdc_status *st)
{
    XrdCl::ChunkList cl;
    cl.reserve(n);
    uint64_t want = 0;
    for (size_t i = 0; i < n; i++) {
        cl.emplace_back(c[i].off, c[i].len, c[i].buf);
        want += c[i].len;
    }
    XrdCl::VectorReadInfo *vi = nullptr;
    XrdCl::XRootDStatus s = x->f.VectorRead(cl, nullptr, vi, (uint16_t)timeout_s);
    if (!s.IsOK()) {
        delete vi;
        return fail(st, s);
    }
    uint64_t size = vi ? vi->GetSize() : 0;
    delete vi;
    if (size != want) {
        st->code = MLHEP_EIO;
        st->retry = 1;
        snprintf(st->msg, sizeof st->msg, "vector read returned %llu of %llu bytes", (unsigned long long)size,
                 (unsigned long long)want);
        return st->code;
    }
    return 0;
}

extern "C" void xrdc_close(xrdc_file *x)
{
    if (!x)
        return;
    XrdCl::XRootDStatus s = x->f.Close(1);
    (void)s.IsOK();
    delete x;
}
