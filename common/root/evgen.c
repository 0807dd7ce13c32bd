/* evgen.c - synthetic ttH(bb)-like events (see evgen.h).
 *
 * Physics sketch, per event (all numbers are for realism of shape, not precision):
 *   jets:  nJet = 4 + Poisson(2.8 sig | 2.2 bkg) (max 16); true b jets 4 (70%) or 3 in
 *          signal, 2-4 in background; pt = 25 + Exp(mean) with b jets and signal harder;
 *          b-tag discriminants high for b jets (with inefficiency), low for light jets
 *          (with mistags); jets sorted by pt; nBJet = jets passing btagDeepB > 0.4941.
 *   leptons: one isolated lepton (electron or muon) from the leptonic W, sometimes a
 *          soft extra one; MET exponential; HT = sum of jet pt; ST = HT + leptons + MET.
 *   partons (GenPart): t, tbar, W+, W-, b, bbar, lepton, neutrino, two quarks from the
 *          hadronic W, an extra b bbar pair (from a 125 GeV resonance in signal, from a
 *          broad gluon-splitting-like mass spectrum in background; the mediator itself
 *          is not listed, so no identifier gives the class away) and Poisson ISR gluons.
 * Floats are rounded to 5-12 mantissa bits like NanoAOD's lossy float storage.
 * Each event uses its own xoshiro256** stream seeded from (seed, class, event). */
#include "root/evgen.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/wbuf.h"

/* ---- random numbers ---- */

typedef struct rng {
    uint64_t s[4];
} rng;

static uint64_t sm64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void rng_seed(rng *r, uint64_t seed, int signal, int64_t event)
{
    uint64_t x = seed * 0x2545F4914F6CDD1Dull ^ (uint64_t)event * 0xD1B54A32D192ED03ull ^ (signal ? 0x5157ull : 0xB6ull);
    for (int i = 0; i < 4; i++)
        r->s[i] = sm64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t rnext(rng *r)
{
    uint64_t *s = r->s, res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return res;
}

static inline double unif(rng *r) { return (double)(rnext(r) >> 11) * 0x1.0p-53; }                 /* [0,1) */
static inline double unif_pos(rng *r) { return ((double)(rnext(r) >> 11) + 0.5) * 0x1.0p-53; }    /* (0,1) */
static inline double expo(rng *r, double mean) { return -mean * log(unif_pos(r)); }

static double gauss(rng *r)
{
    double u = unif_pos(r), v = unif(r);
    return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

static int poisson(rng *r, double mean)
{
    double l = exp(-mean), p = 1.0;
    int k = 0;
    do {
        k++;
        p *= unif(r);
    } while (p > l && k < 100);
    return k - 1;
}

/* float with `bits` mantissa bits, rounded to nearest (NanoAOD-style precision) */
static inline float prec(double v, int bits)
{
    float x = (float)v;
    uint32_t u;
    memcpy(&u, &x, 4);
    int drop = 23 - bits;
    u = (u + (1u << (drop - 1))) & ~((1u << drop) - 1);
    memcpy(&x, &u, 4);
    return x;
}

static inline double clampd(double x, double lo, double hi) { return x < lo ? lo : x > hi ? hi : x; }

/* ---- branch table ---- */

enum {
    /* flat (22) */
    F_run, F_event, F_lumi, F_nJet, F_nElectron, F_nMuon, F_nGenPart, F_nBJet, F_nLepton, F_MET_pt, F_MET_phi,
    F_MET_sumEt, F_HT, F_ST, F_PV_npvs, F_PV_z, F_Pileup_nTrueInt, F_genWeight, F_LHE_HT, F_LHE_Njets, F_HLT_IsoMu24,
    F_HLT_Ele32,
    /* Jet (18) */
    J_pt, J_eta, J_phi, J_mass, J_btagDeepB, J_btagCSVV2, J_qgl, J_chEmEF, J_neEmEF, J_chHEF, J_neHEF,
    J_nConstituents, J_jetId, J_puId, J_hadronFlavour, J_partonFlavour, J_area, J_rawFactor,
    /* Electron (12) */
    E_pt, E_eta, E_phi, E_mass, E_charge, E_pfRelIso03_all, E_dxy, E_dz, E_sip3d, E_cutBased, E_mvaIso,
    E_tightCharge,
    /* Muon (12) */
    M_pt, M_eta, M_phi, M_mass, M_charge, M_pfRelIso04_all, M_dxy, M_dz, M_sip3d, M_tightId, M_mediumId,
    M_nTrackerLayers,
    /* GenPart (10) */
    G_pt, G_eta, G_phi, G_mass, G_pdgId, G_status, G_statusFlags, G_mother, G_vz, G_charge,
    N_TTH
};

static const char *const TTH_SPECS[N_TTH] = {
    "run/i", "event/l", "luminosityBlock/i", "nJet/i", "nElectron/i", "nMuon/i", "nGenPart/i", "nBJet/i",
    "nLepton/i", "MET_pt/F", "MET_phi/F", "MET_sumEt/F", "HT/F", "ST/F", "PV_npvs/I", "PV_z/F", "Pileup_nTrueInt/F",
    "genWeight/F", "LHE_HT/D", "LHE_Njets/b", "HLT_IsoMu24/O", "HLT_Ele32_WPTight_Gsf/O",
    "Jet_pt[nJet]/F", "Jet_eta[nJet]/F", "Jet_phi[nJet]/F", "Jet_mass[nJet]/F", "Jet_btagDeepB[nJet]/F",
    "Jet_btagCSVV2[nJet]/F", "Jet_qgl[nJet]/F", "Jet_chEmEF[nJet]/F", "Jet_neEmEF[nJet]/F", "Jet_chHEF[nJet]/F",
    "Jet_neHEF[nJet]/F", "Jet_nConstituents[nJet]/b", "Jet_jetId[nJet]/I", "Jet_puId[nJet]/I",
    "Jet_hadronFlavour[nJet]/I", "Jet_partonFlavour[nJet]/I", "Jet_area[nJet]/F", "Jet_rawFactor[nJet]/F",
    "Electron_pt[nElectron]/F", "Electron_eta[nElectron]/F", "Electron_phi[nElectron]/F",
    "Electron_mass[nElectron]/F", "Electron_charge[nElectron]/I", "Electron_pfRelIso03_all[nElectron]/F",
    "Electron_dxy[nElectron]/F", "Electron_dz[nElectron]/F", "Electron_sip3d[nElectron]/F",
    "Electron_cutBased[nElectron]/I", "Electron_mvaFall17V2Iso[nElectron]/F", "Electron_tightCharge[nElectron]/I",
    "Muon_pt[nMuon]/F", "Muon_eta[nMuon]/F", "Muon_phi[nMuon]/F", "Muon_mass[nMuon]/F", "Muon_charge[nMuon]/I",
    "Muon_pfRelIso04_all[nMuon]/F", "Muon_dxy[nMuon]/F", "Muon_dz[nMuon]/F", "Muon_sip3d[nMuon]/F",
    "Muon_tightId[nMuon]/O", "Muon_mediumId[nMuon]/O", "Muon_nTrackerLayers[nMuon]/I",
    "GenPart_pt[nGenPart]/F", "GenPart_eta[nGenPart]/F", "GenPart_phi[nGenPart]/F", "GenPart_mass[nGenPart]/F",
    "GenPart_pdgId[nGenPart]/I", "GenPart_status[nGenPart]/I", "GenPart_statusFlags[nGenPart]/I",
    "GenPart_genPartIdxMother[nGenPart]/I", "GenPart_vz[nGenPart]/F", "GenPart_charge[nGenPart]/I",
};

/* nanoaod preset: generic extra collections, flat floats and trigger bits */
enum vkind { K_PT, K_ETA, K_PHI, K_MASS, K_FRAC, K_POS, K_INT, K_CHARGE, K_BOOL, K_IDX };

typedef struct xvar {
    const char *name;
    char type; /* leaf letter */
    enum vkind kind;
} xvar;

typedef struct xcoll {
    const char *name;
    double mean; /* Poisson multiplicity */
    int max;
    xvar vars[14];
} xcoll;

static const xcoll XCOLLS[] = {
    {"Tau", 0.8, 8, {{"pt", 'F', K_PT}, {"eta", 'F', K_ETA}, {"phi", 'F', K_PHI}, {"mass", 'F', K_MASS},
                     {"charge", 'I', K_CHARGE}, {"decayMode", 'I', K_INT}, {"idDeepTau2017v2p1VSjet", 'b', K_INT},
                     {"rawIso", 'F', K_POS}, {"dz", 'F', K_ETA}, {"jetIdx", 'I', K_IDX}}},
    {"Photon", 0.6, 8, {{"pt", 'F', K_PT}, {"eta", 'F', K_ETA}, {"phi", 'F', K_PHI}, {"mass", 'F', K_MASS},
                        {"r9", 'F', K_FRAC}, {"sieie", 'F', K_FRAC}, {"pfRelIso03_all", 'F', K_POS},
                        {"cutBased", 'I', K_INT}, {"electronVeto", 'O', K_BOOL}, {"jetIdx", 'I', K_IDX}}},
    {"FatJet", 1.2, 8, {{"pt", 'F', K_PT}, {"eta", 'F', K_ETA}, {"phi", 'F', K_PHI}, {"mass", 'F', K_MASS},
                        {"msoftdrop", 'F', K_MASS}, {"tau1", 'F', K_FRAC}, {"tau2", 'F', K_FRAC},
                        {"tau3", 'F', K_FRAC}, {"btagDDBvL", 'F', K_FRAC}, {"deepTag_H", 'F', K_FRAC},
                        {"jetId", 'I', K_INT}, {"subJetIdx1", 'I', K_IDX}, {"subJetIdx2", 'I', K_IDX}}},
    {"SubJet", 2.0, 16, {{"pt", 'F', K_PT}, {"eta", 'F', K_ETA}, {"phi", 'F', K_PHI}, {"mass", 'F', K_MASS},
                         {"btagDeepB", 'F', K_FRAC}, {"n2b1", 'F', K_FRAC}}},
    {"SV", 1.5, 10, {{"pt", 'F', K_PT}, {"eta", 'F', K_ETA}, {"phi", 'F', K_PHI}, {"mass", 'F', K_MASS},
                     {"dlen", 'F', K_POS}, {"dlenSig", 'F', K_POS}, {"chi2", 'F', K_POS}, {"ndof", 'F', K_POS},
                     {"dxy", 'F', K_POS}, {"ntracks", 'b', K_INT}}},
    {"TrigObj", 4.0, 24, {{"pt", 'F', K_PT}, {"eta", 'F', K_ETA}, {"phi", 'F', K_PHI}, {"l1pt", 'F', K_PT},
                          {"id", 'I', K_INT}, {"filterBits", 'I', K_INT}}},
};
#define N_XCOLLS ((int)(sizeof XCOLLS / sizeof XCOLLS[0]))

static const char *const XFLAT[] = {"fixedGridRhoFastjetAll", "PuppiMET_pt", "PuppiMET_phi", "RawMET_pt",
                                    "CaloMET_pt", "Generator_weight", "Generator_x1", "Generator_x2",
                                    "btagWeight_DeepCSVB", "L1PreFiringWeight_Nom"};
#define N_XFLAT ((int)(sizeof XFLAT / sizeof XFLAT[0]))

static const char *const XBITS[] = {
    "HLT_IsoMu27", "HLT_Mu50", "HLT_Ele35_WPTight_Gsf", "HLT_Ele115_CaloIdVT_GsfTrkIdT", "HLT_PFHT1050",
    "HLT_PFJet500", "HLT_AK8PFJet400", "HLT_PFMET120_PFMHT120_IDTight", "HLT_DoubleEle33_CaloIdL_MW",
    "HLT_Mu17_TrkIsoVVL_Mu8_TrkIsoVVL_DZ", "HLT_Ele23_Ele12_CaloIdL_TrackIdL_IsoVL", "HLT_Photon200",
    "HLT_PFHT380_SixPFJet32_DoublePFBTagDeepCSV_2p2", "HLT_PFHT430_SixPFJet40_PFBTagCSV_1p5",
    "HLT_Mu12_TrkIsoVVL_Ele23_CaloIdL_TrackIdL_IsoVL_DZ", "HLT_Mu23_TrkIsoVVL_Ele12_CaloIdL_TrackIdL_IsoVL",
    "HLT_TripleMu_12_10_5", "HLT_DoubleMu4_3_Jpsi", "HLT_QuadPFJet98_83_71_15", "HLT_PFHT300PT30_QuadPFJet_75_60_45_40",
    "HLT_IsoTkMu24", "HLT_Ele27_WPTight_Gsf", "HLT_Ele28_eta2p1_WPTight_Gsf_HT150", "HLT_PFMETNoMu120_PFMHTNoMu120_IDTight",
    "HLT_DiJet110_35_Mjj650_PFMET110", "HLT_MET105_IsoTrk50", "HLT_Photon50_R9Id90_HE10_IsoM", "HLT_Tau180HighPtRelaxedIso",
    "HLT_DoubleMediumChargedIsoPFTau35_Trk1_eta2p1_Reg", "HLT_ZeroBias",
    "Flag_goodVertices", "Flag_globalSuperTightHalo2016Filter", "Flag_HBHENoiseFilter", "Flag_HBHENoiseIsoFilter",
    "Flag_EcalDeadCellTriggerPrimitiveFilter", "Flag_BadPFMuonFilter", "Flag_eeBadScFilter", "Flag_ecalBadCalibFilter",
    "Flag_METFilters", "Flag_hfNoisyHitsFilter",
};
#define N_XBITS ((int)(sizeof XBITS / sizeof XBITS[0]))

typedef struct gcol {
    char *spec;
    rootw_type type;
    wbuf buf;
} gcol;

struct evgen {
    int signal, nanoaod;
    uint64_t seed;
    gcol *c;
    int nc;
    int xstart[N_XCOLLS + 1]; /* first column of each extra collection (its counter) */
    int xflat, xbits;         /* first column of the extra flat floats and bits */
};

static rootw_type type_of(char l)
{
    switch (l) {
    case 'O': return ROOTW_BOOL;
    case 'B': return ROOTW_I8;
    case 'b': return ROOTW_U8;
    case 'I': return ROOTW_I32;
    case 'i': return ROOTW_U32;
    case 'l': return ROOTW_U64;
    case 'D': return ROOTW_F64;
    default: return ROOTW_F32;
    }
}

void evgen_free(evgen *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->nc; i++) {
        free(g->c[i].spec);
        wbuf_free(&g->c[i].buf);
    }
    free(g->c);
    free(g);
}

static int add_col(evgen *g, int cap, const char *spec)
{
    if (g->nc >= cap || !(g->c[g->nc].spec = strdup(spec)))
        return -1;
    g->c[g->nc].type = type_of(strrchr(spec, '/')[1]);
    g->nc++;
    return 0;
}

int evgen_new(const char *preset, int signal, uint64_t seed, evgen **out, mlhep_err *e)
{
    *out = NULL;
    if (!preset)
        preset = "tth";
    int nano = strcmp(preset, "nanoaod") == 0;
    if (!nano && strcmp(preset, "tth") != 0)
        return err_set(e, MLHEP_EINVAL, "unknown preset '%s' (expected tth or nanoaod)", preset);
    evgen *g = calloc(1, sizeof *g);
    int cap = N_TTH + N_XFLAT + N_XBITS + N_XCOLLS * 15;
    if (!g || !(g->c = calloc((size_t)cap, sizeof *g->c))) {
        free(g);
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    g->signal = signal != 0;
    g->nanoaod = nano;
    g->seed = seed;
    int rc = 0;
    for (int i = 0; i < N_TTH && !rc; i++)
        rc = add_col(g, cap, TTH_SPECS[i]);
    if (nano) {
        char spec[160];
        g->xflat = g->nc;
        for (int i = 0; i < N_XFLAT && !rc; i++) {
            snprintf(spec, sizeof spec, "%s/F", XFLAT[i]);
            rc = add_col(g, cap, spec);
        }
        g->xbits = g->nc;
        for (int i = 0; i < N_XBITS && !rc; i++) {
            snprintf(spec, sizeof spec, "%s/O", XBITS[i]);
            rc = add_col(g, cap, spec);
        }
        for (int k = 0; k < N_XCOLLS && !rc; k++) {
            const xcoll *x = &XCOLLS[k];
            g->xstart[k] = g->nc;
            snprintf(spec, sizeof spec, "n%s/i", x->name);
            rc = add_col(g, cap, spec);
            for (int v = 0; x->vars[v].name && !rc; v++) {
                snprintf(spec, sizeof spec, "%s_%s[n%s]/%c", x->name, x->vars[v].name, x->name, x->vars[v].type);
                rc = add_col(g, cap, spec);
            }
        }
        g->xstart[N_XCOLLS] = g->nc;
    }
    if (rc) {
        evgen_free(g);
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    *out = g;
    return 0;
}

int evgen_nbranches(const evgen *g) { return g->nc; }
const char *evgen_branch_spec(const evgen *g, int i) { return i >= 0 && i < g->nc ? g->c[i].spec : NULL; }

int evgen_branch_index(const evgen *g, const char *name)
{
    size_t n = strlen(name);
    for (int i = 0; i < g->nc; i++)
        if (strncmp(g->c[i].spec, name, n) == 0 && (g->c[i].spec[n] == '/' || g->c[i].spec[n] == '['))
            return i;
    return -1;
}

/* ---- pushing values ---- */

static inline void pf(evgen *g, int col, float v) { wbuf_put(&g->c[col].buf, &v, 4); }
static inline void pd(evgen *g, int col, double v) { wbuf_put(&g->c[col].buf, &v, 8); }
static inline void pi(evgen *g, int col, int32_t v) { wbuf_put(&g->c[col].buf, &v, 4); }
static inline void pu(evgen *g, int col, uint32_t v) { wbuf_put(&g->c[col].buf, &v, 4); }
static inline void pb(evgen *g, int col, uint8_t v) { wbuf_put(&g->c[col].buf, &v, 1); }

typedef struct jet {
    double pt, eta, phi, btag;
    int isb;
} jet;

static void gen_event(evgen *g, int64_t ev)
{
    rng r;
    rng_seed(&r, g->seed, g->signal, ev);
    int s = g->signal;

    /* jets */
    int nj = 4 + poisson(&r, s ? 2.8 : 2.2);
    if (nj > 16)
        nj = 16;
    double u = unif(&r);
    int nbt = s ? (u < 0.7 ? 4 : 3) : (u < 0.25 ? 4 : u < 0.65 ? 3 : 2);
    if (nbt > nj)
        nbt = nj;
    jet J[16];
    for (int j = 0; j < nj; j++) {
        jet *x = &J[j];
        x->isb = j < nbt;
        x->pt = 25.0 + expo(&r, x->isb ? (s ? 62.0 : 50.0) : (s ? 48.0 : 44.0));
        x->eta = clampd(gauss(&r) * (s ? 1.15 : 1.3), -2.49, 2.49);
        x->phi = (unif(&r) * 2.0 - 1.0) * M_PI;
        double t = unif(&r);
        if (x->isb)
            x->btag = unif(&r) < 0.8 ? 1.0 - t * t * t * 0.6 : t * 0.6; /* 80% efficient */
        else
            x->btag = unif(&r) < 0.06 ? 0.4 + 0.6 * t : t * t * t * 0.5; /* ~6% mistag */
    }
    for (int a = 1; a < nj; a++) { /* sort by pt, descending */
        jet k = J[a];
        int b = a - 1;
        while (b >= 0 && J[b].pt < k.pt) {
            J[b + 1] = J[b];
            b--;
        }
        J[b + 1] = k;
    }
    double ht = 0;
    int nbj = 0;
    for (int j = 0; j < nj; j++) {
        jet *x = &J[j];
        float pt = prec(x->pt, 10);
        ht += pt;
        nbj += x->btag > 0.4941;
        pf(g, J_pt, pt);
        pf(g, J_eta, prec(x->eta, 8));
        pf(g, J_phi, prec(x->phi, 8));
        pf(g, J_mass, prec(x->pt * (0.07 + 0.08 * unif(&r)), 6));
        pf(g, J_btagDeepB, prec(x->btag, 8));
        pf(g, J_btagCSVV2, prec(clampd(x->btag + 0.08 * gauss(&r), 0.0, 1.0), 6));
        pf(g, J_qgl, prec(x->isb ? unif(&r) : unif(&r) * unif(&r), 5));
        double ch = 0.2 + 0.5 * unif(&r), ne = (1.0 - ch) * unif(&r);
        pf(g, J_chEmEF, prec(ch * 0.2, 6));
        pf(g, J_neEmEF, prec(ne * 0.5, 6));
        pf(g, J_chHEF, prec(ch * 0.8, 6));
        pf(g, J_neHEF, prec(ne * 0.5, 6));
        pb(g, J_nConstituents, (uint8_t)(5 + poisson(&r, 12.0 + x->pt / 20.0)));
        pi(g, J_jetId, unif(&r) < 0.96 ? 6 : 2);
        pi(g, J_puId, x->pt > 50 ? 7 : (unif(&r) < 0.9 ? 7 : 4));
        pi(g, J_hadronFlavour, x->isb ? 5 : (unif(&r) < 0.12 ? 4 : 0));
        pi(g, J_partonFlavour, x->isb ? (unif(&r) < 0.5 ? 5 : -5) : (int32_t)(unif(&r) < 0.3 ? 21 : 1 + (int)(unif(&r) * 4)));
        pf(g, J_area, (float)(0.45 + 0.01 * (int)(unif(&r) * 11.0)));
        pf(g, J_rawFactor, prec(0.02 + 0.12 * unif(&r), 5));
    }

    /* leptons: one from the W, sometimes a soft extra one */
    int ne = 0, nm = 0;
    double lsum = 0, lead_mu = 0, lead_e = 0;
    int nlep = 1 + (unif(&r) < 0.08);
    for (int l = 0; l < nlep; l++) {
        int isele = unif(&r) < 0.5;
        double pt = l == 0 ? 26.0 + expo(&r, s ? 42.0 : 36.0) : 10.0 + expo(&r, 12.0);
        float fpt = prec(pt, 10);
        lsum += fpt;
        double eta = clampd(gauss(&r) * 1.1, -2.4, 2.4), phi = (unif(&r) * 2.0 - 1.0) * M_PI;
        int32_t q = unif(&r) < 0.5 ? 1 : -1;
        if (isele) {
            ne++;
            if (fpt > lead_e)
                lead_e = fpt;
            pf(g, E_pt, fpt);
            pf(g, E_eta, prec(eta, 10));
            pf(g, E_phi, prec(phi, 10));
            pf(g, E_mass, prec(0.000511 * (1.0 + 0.01 * gauss(&r)), 8));
            pi(g, E_charge, q);
            pf(g, E_pfRelIso03_all, prec(expo(&r, l ? 0.2 : 0.04), 8));
            pf(g, E_dxy, prec(0.004 * gauss(&r), 8));
            pf(g, E_dz, prec(0.01 * gauss(&r), 8));
            pf(g, E_sip3d, prec(expo(&r, 1.4), 8));
            pi(g, E_cutBased, l ? 1 + (int)(unif(&r) * 3) : 4);
            pf(g, E_mvaIso, prec(l ? unif(&r) : 1.0 - expo(&r, 0.05), 8));
            pi(g, E_tightCharge, unif(&r) < 0.9 ? 2 : 0);
        } else {
            nm++;
            if (fpt > lead_mu)
                lead_mu = fpt;
            pf(g, M_pt, fpt);
            pf(g, M_eta, prec(eta, 10));
            pf(g, M_phi, prec(phi, 10));
            pf(g, M_mass, 0.10566f);
            pi(g, M_charge, q);
            pf(g, M_pfRelIso04_all, prec(expo(&r, l ? 0.25 : 0.05), 8));
            pf(g, M_dxy, prec(0.003 * gauss(&r), 8));
            pf(g, M_dz, prec(0.008 * gauss(&r), 8));
            pf(g, M_sip3d, prec(expo(&r, 1.2), 8));
            pb(g, M_tightId, l == 0 || unif(&r) < 0.5);
            pb(g, M_mediumId, 1);
            pi(g, M_nTrackerLayers, 8 + (int)(unif(&r) * 10));
        }
    }

    /* partons */
    double pvz = 3.5 * gauss(&r);
    int ng = 0;
    int isr = poisson(&r, s ? 0.5 : 0.6);
    struct { double pt, eta, phi, m; int32_t id, st, fl, mo, q; } P[24];
#define PART(PT, ETA, M, ID, ST, MO, Q)                                                                                \
    do {                                                                                                                \
        P[ng].pt = (PT); P[ng].eta = (ETA); P[ng].phi = (unif(&r) * 2.0 - 1.0) * M_PI; P[ng].m = (M);               \
        P[ng].id = (ID); P[ng].st = (ST); P[ng].fl = (ST) == 22 ? 0x2181 : ((ST) == 23 ? 0x1181 : 0x0101);         \
        P[ng].mo = (MO); P[ng].q = (Q); ng++;                                                                           \
    } while (0)
    double tpt = s ? 110.0 : 95.0;
    PART(expo(&r, tpt), 1.4 * gauss(&r), 172.5 + 1.4 * gauss(&r), 6, 22, -1, 1);
    PART(expo(&r, tpt), 1.4 * gauss(&r), 172.5 + 1.4 * gauss(&r), -6, 22, -1, -1);
    PART(0.6 * P[0].pt + expo(&r, 20.0), P[0].eta + 0.5 * gauss(&r), 80.4 + 2.0 * gauss(&r), 24, 22, 0, 1);
    PART(0.6 * P[1].pt + expo(&r, 20.0), P[1].eta + 0.5 * gauss(&r), 80.4 + 2.0 * gauss(&r), -24, 22, 1, -1);
    PART(0.4 * P[0].pt + expo(&r, 30.0), P[0].eta + 0.6 * gauss(&r), 4.8, 5, 23, 0, 0);
    PART(0.4 * P[1].pt + expo(&r, 30.0), P[1].eta + 0.6 * gauss(&r), 4.8, -5, 23, 1, 0);
    int lid = ne ? 11 : 13;
    PART(lsum * 0.9 + 1.0, P[2].eta + 0.8 * gauss(&r), lid == 11 ? 0.000511 : 0.10566, -lid, 23, 2, 1);
    PART(expo(&r, 45.0), P[2].eta + 0.8 * gauss(&r), 0.0, lid + 1, 23, 2, 0);
    PART(expo(&r, 40.0) + 10.0, P[3].eta + 0.8 * gauss(&r), 0.0, 1 + (int)(unif(&r) * 2), 23, 3, 0);
    PART(expo(&r, 40.0) + 10.0, P[3].eta + 0.8 * gauss(&r), 0.0, -(3 + (int)(unif(&r) * 2)), 23, 3, 0);
    /* the extra b pair: resonance at 125 (signal) or broad spectrum (background) */
    double mm = s ? 125.0 + 4.0 * gauss(&r) : 20.0 + expo(&r, 70.0);
    double mpt = 20.0 + expo(&r, s ? 95.0 : 75.0);
    double dr = clampd(2.2 * mm / (mpt + 1e-3), 0.4, 3.0), z = 0.25 + 0.5 * unif(&r);
    double meta = 1.3 * gauss(&r);
    PART(z * mpt + mm / 2.0 * unif(&r), meta + 0.5 * dr, 4.8, 5, 23, -1, 0);
    PART((1.0 - z) * mpt + mm / 2.0 * unif(&r), meta - 0.5 * dr, 4.8, -5, 23, -1, 0);
    for (int k = 0; k < isr && ng < 24; k++)
        PART(10.0 + expo(&r, 25.0), 2.0 * gauss(&r), 0.0, 21, 71, -1, 0);
#undef PART
    for (int k = 0; k < ng; k++) {
        pf(g, G_pt, prec(P[k].pt, 6));
        pf(g, G_eta, prec(clampd(P[k].eta, -6.0, 6.0), 6));
        pf(g, G_phi, prec(P[k].phi, 6));
        pf(g, G_mass, prec(P[k].m, 6));
        pi(g, G_pdgId, P[k].id);
        pi(g, G_status, P[k].st);
        pi(g, G_statusFlags, P[k].fl);
        pi(g, G_mother, P[k].mo);
        pf(g, G_vz, prec(pvz, 10));
        pi(g, G_charge, P[k].q);
    }

    /* event-level */
    double met = expo(&r, s ? 62.0 : 54.0);
    float fmet = prec(met, 10);
    pu(g, F_run, 1);
    uint64_t evno = (uint64_t)ev + 1;
    wbuf_put(&g->c[F_event].buf, &evno, 8);
    pu(g, F_lumi, (uint32_t)(1 + ev / 1000));
    pu(g, F_nJet, (uint32_t)nj);
    pu(g, F_nElectron, (uint32_t)ne);
    pu(g, F_nMuon, (uint32_t)nm);
    pu(g, F_nGenPart, (uint32_t)ng);
    pu(g, F_nBJet, (uint32_t)nbj);
    pu(g, F_nLepton, (uint32_t)(ne + nm));
    pf(g, F_MET_pt, fmet);
    pf(g, F_MET_phi, prec((unif(&r) * 2.0 - 1.0) * M_PI, 10));
    pf(g, F_MET_sumEt, prec(ht + lsum + 350.0 + 90.0 * gauss(&r), 10));
    pf(g, F_HT, prec(ht, 12));
    pf(g, F_ST, prec(ht + lsum + fmet, 12));
    int npv = poisson(&r, 30.0);
    pi(g, F_PV_npvs, npv);
    pf(g, F_PV_z, prec(pvz, 10));
    pf(g, F_Pileup_nTrueInt, prec(npv + 2.0 * gauss(&r), 8));
    pf(g, F_genWeight, unif(&r) < 0.1 ? -1.0f : 1.0f);
    pd(g, F_LHE_HT, ht * (0.9 + 0.2 * unif(&r)));
    pb(g, F_LHE_Njets, (uint8_t)(nj < 4 ? nj : 4));
    pb(g, F_HLT_IsoMu24, lead_mu > 24.0 && unif(&r) < 0.95);
    pb(g, F_HLT_Ele32, lead_e > 32.0 && unif(&r) < 0.9);

    if (!g->nanoaod)
        return;
    for (int i = 0; i < N_XFLAT; i++)
        pf(g, g->xflat + i, prec(i == 0 ? 15.0 + 5.0 * gauss(&r) : expo(&r, 40.0), 8));
    for (int i = 0; i < N_XBITS; i++)
        pb(g, g->xbits + i, unif(&r) < (i >= 30 ? 0.99 : 0.02 + 0.3 * (i % 5 == 0)));
    for (int k = 0; k < N_XCOLLS; k++) {
        const xcoll *x = &XCOLLS[k];
        int n = poisson(&r, x->mean);
        if (n > x->max)
            n = x->max;
        int c0 = g->xstart[k];
        pu(g, c0, (uint32_t)n);
        for (int o = 0; o < n; o++) {
            double pt = 15.0 + expo(&r, 35.0);
            for (int v = 0; x->vars[v].name; v++) {
                int col = c0 + 1 + v;
                double val;
                switch (x->vars[v].kind) {
                case K_PT: val = v == 0 ? pt : pt * (0.8 + 0.3 * unif(&r)); break;
                case K_ETA: val = clampd(1.4 * gauss(&r), -2.5, 2.5); break;
                case K_PHI: val = (unif(&r) * 2.0 - 1.0) * M_PI; break;
                case K_MASS: val = pt * 0.12 * unif(&r); break;
                case K_FRAC: val = unif(&r); break;
                case K_POS: val = expo(&r, 1.0); break;
                case K_INT: val = (double)(int)(unif(&r) * 6.0); break;
                case K_CHARGE: val = unif(&r) < 0.5 ? 1.0 : -1.0; break;
                case K_BOOL: val = unif(&r) < 0.5; break;
                default: val = (double)((int)(unif(&r) * (nj + 1)) - 1); break;
                }
                switch (x->vars[v].type) {
                case 'F': pf(g, col, prec(val, 10)); break;
                case 'I': pi(g, col, (int32_t)val); break;
                default: pb(g, col, (uint8_t)val); break;
                }
            }
        }
    }
}

int evgen_fill(evgen *g, int64_t first, int64_t n, rootw_col *cols, mlhep_err *e)
{
    if (first < 0 || n < 0)
        return err_set(e, MLHEP_EINVAL, "evgen: bad event range %lld+%lld", (long long)first, (long long)n);
    for (int i = 0; i < g->nc; i++)
        g->c[i].buf.len = 0;
    for (int64_t k = 0; k < n; k++)
        gen_event(g, first + k);
    for (int i = 0; i < g->nc; i++) {
        if (!wbuf_ok(&g->c[i].buf))
            return err_set(e, MLHEP_ENOMEM, "evgen: out of memory");
        cols[i].type = g->c[i].type;
        cols[i].data = g->c[i].buf.p;
    }
    return 0;
}

/* ---- writing a file ---- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int evgen_write(const evgen_opts *o, mlhep_err *e)
{
    if (!o->out || !*o->out)
        return err_set(e, MLHEP_EINVAL, "gen: no output file given");
    if (o->events <= 0)
        return err_set(e, MLHEP_EINVAL, "gen: the number of events must be positive");
    evgen *g;
    int rc = evgen_new(o->preset, o->signal, o->seed, &g, e);
    if (rc)
        return rc;
    rootw_opts wo = {.compression = o->compression,
                     .cluster_entries = o->cluster_entries > 0 ? o->cluster_entries : 10000,
                     .basket_bytes = o->basket_bytes,
                     .seed = o->seed * 2 + (uint64_t)(o->signal != 0)};
    rootw_file *f;
    rootw_tree *t;
    if ((rc = rootw_open(o->out, &wo, &f, e))) {
        evgen_free(g);
        return rc;
    }
    rc = rootw_tree_new(f, o->tree ? o->tree : "Events", o->signal ? "synthetic ttH(bb) signal" : "synthetic tt+bb background", &t, e);
    for (int i = 0; i < g->nc && !rc; i++)
        if (rootw_branch(t, g->c[i].spec, e) != i)
            rc = e->code ? e->code : MLHEP_EINVAL;
    rootw_col *cols = calloc((size_t)g->nc, sizeof *cols);
    if (!rc && !cols)
        rc = err_set(e, MLHEP_ENOMEM, "out of memory");
    int64_t chunk = wo.cluster_entries;
    int tty = o->progress && isatty(fileno(o->progress));
    int last_pct = -1;
    double t0 = now_s();
    for (int64_t done = 0; done < o->events && !rc;) {
        int64_t k = o->events - done < chunk ? o->events - done : chunk;
        rc = evgen_fill(g, done, k, cols, e);
        if (!rc)
            rc = rootw_append(t, k, cols, e);
        done += k;
        int pct = (int)(100 * done / o->events);
        if (!rc && o->progress && (tty || pct / 10 != last_pct / 10 || done == o->events) && pct != last_pct) {
            double dt = now_s() - t0;
            fprintf(o->progress, "%sgen: %lld/%lld events (%d%%), %.1f MB, %.0f events/s%s", tty ? "\r" : "",
                    (long long)done, (long long)o->events, pct, (double)rootw_file_bytes(f) / 1e6,
                    dt > 0 ? (double)done / dt : 0.0, tty ? (done == o->events ? "\n" : "") : "\n");
            fflush(o->progress);
            last_pct = pct;
        }
    }
    free(cols);
    evgen_free(g);
    if (rc) {
        rootw_abort(f);
        return err_prefix(e, "gen %s", o->out);
    }
    return rootw_close(f, e);
}
