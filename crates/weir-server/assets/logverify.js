// weir's in-page transparency-log verifier (our own code, no dependencies).
// Checks a c2sp.org/tlog-proof@v1 inclusion proof (RFC 6962 / RFC 9162 section 2.1.3.2) for one
// log entry against the checkpoint it carries, with a SHA-256 of its own (so it also works on
// plain-HTTP deployments, where browsers withhold WebCrypto), and the checkpoint's Ed25519 note
// signature with WebCrypto where the browser offers it.
(function () {
  "use strict";

  // ---- SHA-256 (FIPS 180-4) -------------------------------------------------------------
  var K = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
  ]);

  function sha256(bytes) {
    var h = new Uint32Array([
      0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19
    ]);
    var len = bytes.length;
    var padded = new Uint8Array(((len + 9 + 63) >> 6) << 6);
    padded.set(bytes);
    padded[len] = 0x80;
    var bits = len * 8;
    var view = new DataView(padded.buffer);
    view.setUint32(padded.length - 8, Math.floor(bits / 0x100000000));
    view.setUint32(padded.length - 4, bits >>> 0);
    var w = new Uint32Array(64);
    for (var off = 0; off < padded.length; off += 64) {
      for (var i = 0; i < 16; i++) w[i] = view.getUint32(off + i * 4);
      for (i = 16; i < 64; i++) {
        var a = w[i - 15], b = w[i - 2];
        var s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
        var s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
        w[i] = (w[i - 16] + s0 + w[i - 7] + s1) >>> 0;
      }
      var A = h[0], B = h[1], C = h[2], D = h[3], E = h[4], F = h[5], G = h[6], H = h[7];
      for (i = 0; i < 64; i++) {
        var S1 = ((E >>> 6) | (E << 26)) ^ ((E >>> 11) | (E << 21)) ^ ((E >>> 25) | (E << 7));
        var ch = (E & F) ^ (~E & G);
        var t1 = (H + S1 + ch + K[i] + w[i]) >>> 0;
        var S0 = ((A >>> 2) | (A << 30)) ^ ((A >>> 13) | (A << 19)) ^ ((A >>> 22) | (A << 10));
        var maj = (A & B) ^ (A & C) ^ (B & C);
        var t2 = (S0 + maj) >>> 0;
        H = G; G = F; F = E; E = (D + t1) >>> 0; D = C; C = B; B = A; A = (t1 + t2) >>> 0;
      }
      h[0] = (h[0] + A) >>> 0; h[1] = (h[1] + B) >>> 0; h[2] = (h[2] + C) >>> 0; h[3] = (h[3] + D) >>> 0;
      h[4] = (h[4] + E) >>> 0; h[5] = (h[5] + F) >>> 0; h[6] = (h[6] + G) >>> 0; h[7] = (h[7] + H) >>> 0;
    }
    var out = new Uint8Array(32);
    var ov = new DataView(out.buffer);
    for (i = 0; i < 8; i++) ov.setUint32(i * 4, h[i]);
    return out;
  }

  function concat(parts) {
    var n = 0, i;
    for (i = 0; i < parts.length; i++) n += parts[i].length;
    var out = new Uint8Array(n), at = 0;
    for (i = 0; i < parts.length; i++) { out.set(parts[i], at); at += parts[i].length; }
    return out;
  }

  function fromBase64(s) {
    var bin = atob(s);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  function equal(a, b) {
    if (a.length !== b.length) return false;
    var d = 0;
    for (var i = 0; i < a.length; i++) d |= a[i] ^ b[i];
    return d === 0;
  }

  function hex(b) {
    var s = "";
    for (var i = 0; i < b.length; i++) s += (b[i] < 16 ? "0" : "") + b[i].toString(16);
    return s;
  }

  // ---- RFC 6962 hashes and the inclusion check -------------------------------------------
  function leafHash(entry) { return sha256(concat([new Uint8Array([0]), entry])); }
  function nodeHash(l, r) { return sha256(concat([new Uint8Array([1]), l, r])); }

  // RFC 9162 2.1.3.2: the root an inclusion path leads to, or null when the path cannot be one.
  function rootFromInclusion(index, size, leaf, path) {
    var fn = BigInt(index), sn = BigInt(size) - 1n, r = leaf;
    if (fn > sn) return null;
    for (var i = 0; i < path.length; i++) {
      if (sn === 0n) return null;
      if ((fn & 1n) === 1n || fn === sn) {
        r = nodeHash(path[i], r);
        if ((fn & 1n) === 0n) {
          while ((fn & 1n) === 0n && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
        }
      } else {
        r = nodeHash(r, path[i]);
      }
      fn >>= 1n; sn >>= 1n;
    }
    return sn === 0n ? r : null;
  }

  // ---- c2sp.org/tlog-proof@v1 and c2sp.org/tlog-checkpoint --------------------------------
  function parseProof(text) {
    var header = "c2sp.org/tlog-proof@v1\n";
    if (text.indexOf(header) !== 0) throw new Error("not a c2sp.org/tlog-proof@v1 file");
    var rest = text.slice(header.length);
    var split = rest.indexOf("\n\n");
    if (split < 0) throw new Error("no blank line before the checkpoint");
    var lines = rest.slice(0, split).split("\n");
    var note = rest.slice(split + 2);
    var i = 0;
    if (lines[i] && lines[i].indexOf("extra ") === 0) i++;
    var m = /^index (\d+)$/.exec(lines[i] || "");
    if (!m) throw new Error("no index line");
    var path = [];
    for (i = i + 1; i < lines.length; i++) {
      var h = fromBase64(lines[i]);
      if (h.length !== 32) throw new Error("a path hash is not 32 bytes");
      path.push(h);
    }
    return { index: m[1], path: path, note: note };
  }

  function parseCheckpoint(note) {
    var split = note.indexOf("\n\n");
    if (split < 0) throw new Error("the checkpoint has no signatures");
    var body = note.slice(0, split + 1);
    var lines = body.split("\n");
    if (lines.length < 4) throw new Error("the checkpoint is too short");
    var root = fromBase64(lines[2]);
    if (root.length !== 32) throw new Error("the root is not 32 bytes");
    var sigs = note.slice(split + 2).split("\n").filter(function (l) { return l.length > 0; })
      .map(function (l) {
        var m = /^\u2014 (\S+) (\S+)$/.exec(l);
        if (!m) throw new Error("a malformed signature line");
        return { name: m[1], sig: fromBase64(m[2]) };
      });
    return { text: body, origin: lines[0], size: lines[1], root: root, signatures: sigs };
  }

  // The checkpoint's signature by the log's key (vkey `name+hash+base64(0x01 || key)`), with
  // WebCrypto's Ed25519. Resolves to true, false, or null when this browser cannot check it.
  function verifyNote(cp, vkey) {
    // The name ends at the first '+', the hash at the second; the base64 key may hold '+'.
    var all = vkey.trim().split("+");
    if (all.length < 3) return Promise.resolve(false);
    var parts = [all[0], all[1], all.slice(2).join("+")];
    var key = fromBase64(parts[2]);
    if (key.length !== 33 || key[0] !== 1) return Promise.resolve(false);
    var want = parseInt(parts[1], 16);
    var sig = null;
    for (var i = 0; i < cp.signatures.length; i++) {
      var s = cp.signatures[i].sig;
      var hash = ((s[0] << 24) | (s[1] << 16) | (s[2] << 8) | s[3]) >>> 0;
      if (cp.signatures[i].name === parts[0] && hash === want && s.length === 68) sig = s.slice(4);
    }
    if (!sig) return Promise.resolve(false);
    if (!window.crypto || !window.crypto.subtle) return Promise.resolve(null);
    var msg = new TextEncoder().encode(cp.text);
    return window.crypto.subtle.importKey("raw", key.slice(1), { name: "Ed25519" }, false, ["verify"])
      .then(function (k) { return window.crypto.subtle.verify({ name: "Ed25519" }, k, sig, msg); })
      .catch(function () { return null; });
  }

  // The whole check for one entry: { included, root, leaf, signature } or an error.
  function verifyEntry(entryBytes, proofText, vkey) {
    try {
      return verifyEntryOrThrow(entryBytes, proofText, vkey);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  function verifyEntryOrThrow(entryBytes, proofText, vkey) {
    var p = parseProof(proofText);
    var cp = parseCheckpoint(p.note);
    var leaf = leafHash(entryBytes);
    var root = rootFromInclusion(p.index, cp.size, leaf, p.path);
    var included = root !== null && equal(root, cp.root);
    return verifyNote(cp, vkey).then(function (signed) {
      return { included: included, leaf: hex(leaf), root: hex(cp.root), size: cp.size, signature: signed };
    });
  }

  window.weirLog = {
    sha256: function (b) { return hex(sha256(b)); },
    verifyEntry: verifyEntry,
    fromBase64: fromBase64
  };

  function run(box) {
    var out = document.getElementById("verify-result");
    var entry = fromBase64(box.getAttribute("data-entry"));
    var proof = document.getElementById("proof").textContent;
    var vkey = box.getAttribute("data-vkey");
    out.textContent = "Checking…";
    verifyEntry(entry, proof, vkey).then(function (r) {
      var sig = r.signature === true ? "the checkpoint's signature verifies with the log's key"
        : r.signature === false ? "the checkpoint's signature does NOT verify with the log's key"
        : "this browser cannot check Ed25519 signatures here; check it offline with the command below";
      out.textContent = (r.included
        ? "Verified: entry is included in the checkpoint of size " + r.size + " (root " + r.root + "); "
        : "NOT verified: the proof does not lead to the checkpoint's root " + r.root + "; ") + sig + ".";
      out.className = !r.included || r.signature === false ? "error" : r.signature === true ? "ok" : "warn";
      out.setAttribute("data-included", r.included ? "yes" : "no");
      out.setAttribute("data-signature", String(r.signature));
    }, function (e) {
      out.textContent = "NOT verified: " + e.message;
      out.className = "error";
      out.setAttribute("data-included", "no");
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("verify");
    if (!box) return;
    var button = document.getElementById("verify-button");
    button.hidden = false;
    button.addEventListener("click", function () { run(box); });
  });
})();
