import { defineComponent as Wn, ref as Me, computed as yt, watch as Tt, createBlock as it, openBlock as te, Transition as qu, withCtx as We, createElementBlock as _e, createCommentVNode as Ee, createElementVNode as N, normalizeClass as On, withDirectives as Ws, vModelText as Vs, createVNode as he, unref as Q, shallowRef as lt, toDisplayString as St, Fragment as ih, renderList as Ju, inject as Qu, onMounted as ed, onUnmounted as td, nextTick as nd, createTextVNode as id } from "vue";
import { i as sd, a as Nl, b as rd, I as Be, t as xa, _ as Li, s as sh, c as Gt, S as ve, g as od, M as ad, d as ld, e as cd, f as hd, h as ud, p as dd, Q as fd, j as gd } from "./index-DlGh9P5C.js";
function rh(...i) {
  console.warn(...i);
}
const Le = {
  UNKNOWN: 0,
  INTERSECTING: 1,
  ABOVE: 2,
  RIGHT: 4,
  BELOW: 8,
  LEFT: 16
};
function Qe(i) {
  const e = ut();
  for (let t = 0, n = i.length; t < n; ++t)
    es(e, i[t]);
  return e;
}
function Ps(i, e, t) {
  return t ? (t[0] = i[0] - e, t[1] = i[1] - e, t[2] = i[2] + e, t[3] = i[3] + e, t) : [
    i[0] - e,
    i[1] - e,
    i[2] + e,
    i[3] + e
  ];
}
function oh(i, e) {
  return e ? (e[0] = i[0], e[1] = i[1], e[2] = i[2], e[3] = i[3], e) : i.slice();
}
function Vn(i, e, t) {
  let n, s;
  return e < i[0] ? n = i[0] - e : i[2] < e ? n = e - i[2] : n = 0, t < i[1] ? s = i[1] - t : i[3] < t ? s = t - i[3] : s = 0, n * n + s * s;
}
function Si(i, e) {
  return Ea(i, e[0], e[1]);
}
function ji(i, e) {
  return i[0] <= e[0] && e[2] <= i[2] && i[1] <= e[1] && e[3] <= i[3];
}
function Ea(i, e, t) {
  return i[0] <= e && e <= i[2] && i[1] <= t && t <= i[3];
}
function Xo(i, e) {
  const t = i[0], n = i[1], s = i[2], r = i[3], o = e[0], a = e[1];
  let l = Le.UNKNOWN;
  return o < t ? l = l | Le.LEFT : o > s && (l = l | Le.RIGHT), a < n ? l = l | Le.BELOW : a > r && (l = l | Le.ABOVE), l === Le.UNKNOWN && (l = Le.INTERSECTING), l;
}
function ut() {
  return [1 / 0, 1 / 0, -1 / 0, -1 / 0];
}
function Cn(i, e, t, n, s) {
  return s ? (s[0] = i, s[1] = e, s[2] = t, s[3] = n, s) : [i, e, t, n];
}
function Is(i) {
  return Cn(1 / 0, 1 / 0, -1 / 0, -1 / 0, i);
}
function Qi(i, e) {
  const t = i[0], n = i[1];
  return Cn(t, n, t, n, e);
}
function va(i, e, t, n, s) {
  const r = Is(s);
  return lh(r, i, e, t, n);
}
function Ri(i, e) {
  return i[0] == e[0] && i[2] == e[2] && i[1] == e[1] && i[3] == e[3];
}
function ah(i, e) {
  return e[0] < i[0] && (i[0] = e[0]), e[2] > i[2] && (i[2] = e[2]), e[1] < i[1] && (i[1] = e[1]), e[3] > i[3] && (i[3] = e[3]), i;
}
function es(i, e) {
  e[0] < i[0] && (i[0] = e[0]), e[0] > i[2] && (i[2] = e[0]), e[1] < i[1] && (i[1] = e[1]), e[1] > i[3] && (i[3] = e[1]);
}
function lh(i, e, t, n, s) {
  for (; t < n; t += s)
    _d(i, e[t], e[t + 1]);
  return i;
}
function _d(i, e, t) {
  i[0] = Math.min(i[0], e), i[1] = Math.min(i[1], t), i[2] = Math.max(i[2], e), i[3] = Math.max(i[3], t);
}
function ch(i, e) {
  let t;
  return t = e(Mr(i)), t || (t = e(Dr(i)), t) || (t = e(Or(i)), t) || (t = e(Xn(i)), t) ? t : !1;
}
function jo(i) {
  let e = 0;
  return wi(i) || (e = ae(i) * He(i)), e;
}
function Mr(i) {
  return [i[0], i[1]];
}
function Dr(i) {
  return [i[2], i[1]];
}
function zt(i) {
  return [(i[0] + i[2]) / 2, (i[1] + i[3]) / 2];
}
function md(i, e) {
  let t;
  if (e === "bottom-left")
    t = Mr(i);
  else if (e === "bottom-right")
    t = Dr(i);
  else if (e === "top-left")
    t = Xn(i);
  else if (e === "top-right")
    t = Or(i);
  else
    throw new Error("Invalid corner");
  return t;
}
function Yo(i, e, t, n, s) {
  const [r, o, a, l, c, h, u, d] = hh(
    i,
    e,
    t,
    n
  );
  return Cn(
    Math.min(r, a, c, u),
    Math.min(o, l, h, d),
    Math.max(r, a, c, u),
    Math.max(o, l, h, d),
    s
  );
}
function hh(i, e, t, n) {
  const s = e * n[0] / 2, r = e * n[1] / 2, o = Math.cos(t), a = Math.sin(t), l = s * o, c = s * a, h = r * o, u = r * a, d = i[0], f = i[1];
  return [
    d - l + u,
    f - c - h,
    d - l - u,
    f - c + h,
    d + l - u,
    f + c + h,
    d + l + u,
    f + c - h,
    d - l + u,
    f - c - h
  ];
}
function He(i) {
  return i[3] - i[1];
}
function Nn(i, e, t) {
  const n = t || ut();
  return Ke(i, e) ? (i[0] > e[0] ? n[0] = i[0] : n[0] = e[0], i[1] > e[1] ? n[1] = i[1] : n[1] = e[1], i[2] < e[2] ? n[2] = i[2] : n[2] = e[2], i[3] < e[3] ? n[3] = i[3] : n[3] = e[3]) : Is(n), n;
}
function Xn(i) {
  return [i[0], i[3]];
}
function Or(i) {
  return [i[2], i[3]];
}
function ae(i) {
  return i[2] - i[0];
}
function Ke(i, e) {
  return i[0] <= e[2] && i[2] >= e[0] && i[1] <= e[3] && i[3] >= e[1];
}
function wi(i) {
  return i[2] < i[0] || i[3] < i[1];
}
function pd(i, e) {
  return e ? (e[0] = i[0], e[1] = i[1], e[2] = i[2], e[3] = i[3], e) : i;
}
function yd(i, e, t) {
  let n = !1;
  const s = Xo(i, e), r = Xo(i, t);
  if (s === Le.INTERSECTING || r === Le.INTERSECTING)
    n = !0;
  else {
    const o = i[0], a = i[1], l = i[2], c = i[3], h = e[0], u = e[1], d = t[0], f = t[1], g = (f - u) / (d - h);
    let m, _;
    r & Le.ABOVE && !(s & Le.ABOVE) && (m = d - (f - c) / g, n = m >= o && m <= l), !n && r & Le.RIGHT && !(s & Le.RIGHT) && (_ = f - (d - l) * g, n = _ >= a && _ <= c), !n && r & Le.BELOW && !(s & Le.BELOW) && (m = d - (f - a) / g, n = m >= o && m <= l), !n && r & Le.LEFT && !(s & Le.LEFT) && (_ = f - (d - o) * g, n = _ >= a && _ <= c);
  }
  return n;
}
function uh(i, e) {
  const t = e.getExtent(), n = zt(i);
  if (e.canWrapX() && (n[0] < t[0] || n[0] >= t[2])) {
    const s = ae(t), o = Math.floor(
      (n[0] - t[0]) / s
    ) * s;
    i[0] -= o, i[2] -= o;
  }
  return i;
}
function dh(i, e, t) {
  if (e.canWrapX()) {
    const n = e.getExtent();
    if (!isFinite(i[0]) || !isFinite(i[2]))
      return [[n[0], i[1], n[2], i[3]]];
    uh(i, e);
    const s = ae(n);
    if (ae(i) > s && !t)
      return [[n[0], i[1], n[2], i[3]]];
    if (i[0] < n[0])
      return [
        [i[0] + s, i[1], n[2], i[3]],
        [n[0], i[1], i[2], i[3]]
      ];
    if (i[2] > n[2])
      return [
        [i[0], i[1], n[2], i[3]],
        [n[0], i[1], i[2] - s, i[3]]
      ];
  }
  return [i];
}
function de(i, e, t) {
  return Math.min(Math.max(i, e), t);
}
function xd(i, e, t, n, s, r) {
  const o = s - t, a = r - n;
  if (o !== 0 || a !== 0) {
    const l = ((i - t) * o + (e - n) * a) / (o * o + a * a);
    l > 1 ? (t = s, n = r) : l > 0 && (t += o * l, n += a * l);
  }
  return tn(i, e, t, n);
}
function tn(i, e, t, n) {
  const s = t - i, r = n - e;
  return s * s + r * r;
}
function Ed(i) {
  const e = i.length;
  for (let n = 0; n < e; n++) {
    let s = n, r = Math.abs(i[n][n]);
    for (let a = n + 1; a < e; a++) {
      const l = Math.abs(i[a][n]);
      l > r && (r = l, s = a);
    }
    if (r === 0)
      return null;
    const o = i[s];
    i[s] = i[n], i[n] = o;
    for (let a = n + 1; a < e; a++) {
      const l = -i[a][n] / i[n][n];
      for (let c = n; c < e + 1; c++)
        n == c ? i[a][c] = 0 : i[a][c] += l * i[n][c];
    }
  }
  const t = new Array(e);
  for (let n = e - 1; n >= 0; n--) {
    t[n] = i[n][e] / i[n][n];
    for (let s = n - 1; s >= 0; s--)
      i[s][e] -= i[s][n] * t[n];
  }
  return t;
}
function kl(i) {
  return i * 180 / Math.PI;
}
function En(i) {
  return i * Math.PI / 180;
}
function kn(i, e) {
  const t = i % e;
  return t * e < 0 ? t + e : t;
}
function at(i, e, t) {
  return i + t * (e - i);
}
function As(i, e) {
  const t = Math.pow(10, e);
  return Math.round(i * t) / t;
}
function Xs(i, e) {
  return Math.floor(As(i, e));
}
function js(i, e) {
  return Math.ceil(As(i, e));
}
function Zo(i, e, t) {
  if (i >= e && i < t)
    return i;
  const n = t - e;
  return ((i - e) % n + n) % n + e;
}
function vd(i, e) {
  return i[0] += +e[0], i[1] += +e[1], i;
}
function Ca(i, e) {
  const t = i[0], n = i[1], s = e[0], r = e[1], o = s[0], a = s[1], l = r[0], c = r[1], h = l - o, u = c - a, d = h === 0 && u === 0 ? 0 : (h * (t - o) + u * (n - a)) / (h * h + u * u || 0);
  let f, g;
  return d <= 0 ? (f = o, g = a) : d >= 1 ? (f = l, g = c) : (f = o + d * h, g = a + d * u), [f, g];
}
function Ze(i, e) {
  let t = !0;
  for (let n = i.length - 1; n >= 0; --n)
    if (i[n] != e[n]) {
      t = !1;
      break;
    }
  return t;
}
function Ta(i, e) {
  const t = Math.cos(e), n = Math.sin(e), s = i[0] * t - i[1] * n, r = i[1] * t + i[0] * n;
  return i[0] = s, i[1] = r, i;
}
function Cd(i, e) {
  return i[0] *= e, i[1] *= e, i;
}
function rs(i, e) {
  const t = i[0] - e[0], n = i[1] - e[1];
  return t * t + n * n;
}
function Yi(i, e) {
  return Math.sqrt(rs(i, e));
}
function Td(i, e) {
  return rs(i, Ca(i, e));
}
function fh(i, e) {
  if (e.canWrapX()) {
    const t = ae(e.getExtent()), n = Sd(i, e, t);
    n && (i[0] -= n * t);
  }
  return i;
}
function Sd(i, e, t) {
  const n = e.getExtent();
  let s = 0;
  return e.canWrapX() && (i[0] < n[0] || i[0] > n[2]) && (t = t || ae(n), s = Math.floor(
    (i[0] - n[0]) / t
  )), s;
}
const os = {
  // use the radius of the Normal sphere
  radians: 6370997 / (2 * Math.PI),
  degrees: 2 * Math.PI * 6370997 / 360,
  ft: 0.3048,
  m: 1,
  "us-ft": 1200 / 3937
};
class Sa {
  /**
   * @param {Options} options Projection options.
   */
  constructor(e) {
    this.code_ = e.code, this.units_ = /** @type {import("./Units.js").Units} */
    e.units, this.extent_ = e.extent !== void 0 ? e.extent : null, this.worldExtent_ = e.worldExtent !== void 0 ? e.worldExtent : null, this.axisOrientation_ = e.axisOrientation !== void 0 ? e.axisOrientation : "enu", this.global_ = e.global !== void 0 ? e.global : !1, this.canWrapX_ = !!(this.global_ && this.extent_), this.getPointResolutionFunc_ = e.getPointResolution, this.defaultTileGrid_ = null, this.metersPerUnit_ = e.metersPerUnit;
  }
  /**
   * @return {boolean} The projection is suitable for wrapping the x-axis
   */
  canWrapX() {
    return this.canWrapX_;
  }
  /**
   * Get the code for this projection, e.g. 'EPSG:4326'.
   * @return {string} Code.
   * @api
   */
  getCode() {
    return this.code_;
  }
  /**
   * Get the validity extent for this projection.
   * @return {import("../extent.js").Extent} Extent.
   * @api
   */
  getExtent() {
    return this.extent_;
  }
  /**
   * Get the units of this projection.
   * @return {import("./Units.js").Units} Units.
   * @api
   */
  getUnits() {
    return this.units_;
  }
  /**
   * Get the amount of meters per unit of this projection.  If the projection is
   * not configured with `metersPerUnit` or a units identifier, the return is
   * `undefined`.
   * @return {number|undefined} Meters.
   * @api
   */
  getMetersPerUnit() {
    return this.metersPerUnit_ || os[this.units_];
  }
  /**
   * Get the world extent for this projection.
   * @return {import("../extent.js").Extent} Extent.
   * @api
   */
  getWorldExtent() {
    return this.worldExtent_;
  }
  /**
   * Get the axis orientation of this projection.
   * Example values are:
   * enu - the default easting, northing, elevation.
   * neu - northing, easting, up - useful for "lat/long" geographic coordinates,
   *     or south orientated transverse mercator.
   * wnu - westing, northing, up - some planetary coordinate systems have
   *     "west positive" coordinate systems
   * @return {string} Axis orientation.
   * @api
   */
  getAxisOrientation() {
    return this.axisOrientation_;
  }
  /**
   * Is this projection a global projection which spans the whole world?
   * @return {boolean} Whether the projection is global.
   * @api
   */
  isGlobal() {
    return this.global_;
  }
  /**
   * Set if the projection is a global projection which spans the whole world
   * @param {boolean} global Whether the projection is global.
   * @api
   */
  setGlobal(e) {
    this.global_ = e, this.canWrapX_ = !!(e && this.extent_);
  }
  /**
   * @return {import("../tilegrid/TileGrid.js").default} The default tile grid.
   */
  getDefaultTileGrid() {
    return this.defaultTileGrid_;
  }
  /**
   * @param {import("../tilegrid/TileGrid.js").default} tileGrid The default tile grid.
   */
  setDefaultTileGrid(e) {
    this.defaultTileGrid_ = e;
  }
  /**
   * Set the validity extent for this projection.
   * @param {import("../extent.js").Extent} extent Extent.
   * @api
   */
  setExtent(e) {
    this.extent_ = e, this.canWrapX_ = !!(this.global_ && e);
  }
  /**
   * Set the world extent for this projection.
   * @param {import("../extent.js").Extent} worldExtent World extent
   *     [minlon, minlat, maxlon, maxlat].
   * @api
   */
  setWorldExtent(e) {
    this.worldExtent_ = e;
  }
  /**
   * Set the getPointResolution function (see {@link module:ol/proj.getPointResolution}
   * for this projection.
   * @param {function(number, import("../coordinate.js").Coordinate):number} func Function
   * @api
   */
  setGetPointResolution(e) {
    this.getPointResolutionFunc_ = e;
  }
  /**
   * Get the custom point resolution function for this projection (if set).
   * @return {GetPointResolution|undefined} The custom point
   * resolution function (if set).
   */
  getPointResolutionFunc() {
    return this.getPointResolutionFunc_;
  }
}
const Fs = 6378137, mi = Math.PI * Fs, Rd = [-mi, -mi, mi, mi], wd = [-180, -85, 180, 85], Ys = Fs * Math.log(Math.tan(Math.PI / 2));
class ei extends Sa {
  /**
   * @param {string} code Code.
   */
  constructor(e) {
    super({
      code: e,
      units: "m",
      extent: Rd,
      global: !0,
      worldExtent: wd,
      getPointResolution: function(t, n) {
        return t / Math.cosh(n[1] / Fs);
      }
    });
  }
}
const Gl = [
  new ei("EPSG:3857"),
  new ei("EPSG:102100"),
  new ei("EPSG:102113"),
  new ei("EPSG:900913"),
  new ei("http://www.opengis.net/def/crs/EPSG/0/3857"),
  new ei("http://www.opengis.net/gml/srs/epsg.xml#3857")
];
function Pd(i, e, t, n) {
  const s = i.length;
  t = t > 1 ? t : 2, n = n ?? t, e === void 0 && (t > 2 ? e = i.slice() : e = new Array(s));
  for (let r = 0; r < s; r += n) {
    e[r] = mi * i[r] / 180;
    let o = Fs * Math.log(Math.tan(Math.PI * (+i[r + 1] + 90) / 360));
    o > Ys ? o = Ys : o < -Ys && (o = -Ys), e[r + 1] = o;
  }
  return e;
}
function Id(i, e, t, n) {
  const s = i.length;
  t = t > 1 ? t : 2, n = n ?? t, e === void 0 && (t > 2 ? e = i.slice() : e = new Array(s));
  for (let r = 0; r < s; r += n)
    e[r] = 180 * i[r] / mi, e[r + 1] = 360 * Math.atan(Math.exp(i[r + 1] / Fs)) / Math.PI - 90;
  return e;
}
const Ad = 6378137, Bl = [-180, -90, 180, 90], Fd = Math.PI * Ad / 180;
class Pn extends Sa {
  /**
   * @param {string} code Code.
   * @param {string} [axisOrientation] Axis orientation.
   */
  constructor(e, t) {
    super({
      code: e,
      units: "degrees",
      extent: Bl,
      axisOrientation: t,
      global: !0,
      metersPerUnit: Fd,
      worldExtent: Bl
    });
  }
}
const Ul = [
  new Pn("CRS:84"),
  new Pn("EPSG:4326", "neu"),
  new Pn("urn:ogc:def:crs:OGC:1.3:CRS84"),
  new Pn("urn:ogc:def:crs:OGC:2:84"),
  new Pn("http://www.opengis.net/def/crs/OGC/1.3/CRS84"),
  new Pn("http://www.opengis.net/gml/srs/epsg.xml#4326", "neu"),
  new Pn("http://www.opengis.net/def/crs/EPSG/0/4326", "neu")
];
let Ko = {};
function bd(i) {
  return Ko[i] || Ko[i.replace(/urn:(x-)?ogc:def:crs:EPSG:(.*:)?(\w+)$/, "EPSG:$3")] || null;
}
function Ld(i, e) {
  Ko[i] = e;
}
function Mi(i) {
  for (const e in i)
    delete i[e];
}
function Bn(i) {
  let e;
  for (e in i)
    return !1;
  return !e;
}
let xi = {};
function as(i, e, t) {
  const n = i.getCode(), s = e.getCode();
  n in xi || (xi[n] = {}), xi[n][s] = t;
}
function oo(i, e) {
  return i in xi && e in xi[i] ? xi[i][e] : null;
}
const gr = 0.9996, Et = 669438e-8, Nr = Et * Et, kr = Nr * Et, bn = Et / (1 - Et), zl = Math.sqrt(1 - Et), Pi = (1 - zl) / (1 + zl), gh = Pi * Pi, Ra = gh * Pi, wa = Ra * Pi, _h = wa * Pi, mh = 1 - Et / 4 - 3 * Nr / 64 - 5 * kr / 256, Md = 3 * Et / 8 + 3 * Nr / 32 + 45 * kr / 1024, Dd = 15 * Nr / 256 + 45 * kr / 1024, Od = 35 * kr / 3072, Nd = 3 / 2 * Pi - 27 / 32 * Ra + 269 / 512 * _h, kd = 21 / 16 * gh - 55 / 32 * wa, Gd = 151 / 96 * Ra - 417 / 128 * _h, Bd = 1097 / 512 * wa, _r = 6378137;
function Ud(i, e, t) {
  const n = i - 5e5, o = (t.north ? e : e - 1e7) / gr / (_r * mh), a = o + Nd * Math.sin(2 * o) + kd * Math.sin(4 * o) + Gd * Math.sin(6 * o) + Bd * Math.sin(8 * o), l = Math.sin(a), c = l * l, h = Math.cos(a), u = l / h, d = u * u, f = d * d, g = 1 - Et * c, m = Math.sqrt(1 - Et * c), _ = _r / m, p = (1 - Et) / g, x = bn * h ** 2, v = x * x, E = n / (_ * gr), y = E * E, T = y * E, S = T * E, w = S * E, P = w * E, M = a - u / p * (y / 2 - S / 24 * (5 + 3 * d + 10 * x - 4 * v - 9 * bn)) + P / 720 * (61 + 90 * d + 298 * x + 45 * f - 252 * bn - 3 * v);
  let U = (E - T / 6 * (1 + 2 * d + x) + w / 120 * (5 - 2 * x + 28 * d - 3 * v + 8 * bn + 24 * f)) / h;
  return U = Zo(
    U + En(ph(t.number)),
    -Math.PI,
    Math.PI
  ), [kl(U), kl(M)];
}
const $l = -80, Wl = 84, zd = -180, $d = 180;
function Wd(i, e, t) {
  i = Zo(i, zd, $d), e < $l ? e = $l : e > Wl && (e = Wl);
  const n = En(e), s = Math.sin(n), r = Math.cos(n), o = s / r, a = o * o, l = a * a, c = En(i), h = ph(t.number), u = En(h), d = _r / Math.sqrt(1 - Et * s ** 2), f = bn * r ** 2, g = r * Zo(c - u, -Math.PI, Math.PI), m = g * g, _ = m * g, p = _ * g, x = p * g, v = x * g, E = _r * (mh * n - Md * Math.sin(2 * n) + Dd * Math.sin(4 * n) - Od * Math.sin(6 * n)), y = gr * d * (g + _ / 6 * (1 - a + f) + x / 120 * (5 - 18 * a + l + 72 * f - 58 * bn)) + 5e5;
  let T = gr * (E + d * o * (m / 2 + p / 24 * (5 - a + 9 * f + 4 * f ** 2) + v / 720 * (61 - 58 * a + l + 600 * f - 330 * bn)));
  return t.north || (T += 1e7), [y, T];
}
function ph(i) {
  return (i - 1) * 6 - 180 + 3;
}
const Vd = [
  /^EPSG:(\d+)$/,
  /^urn:ogc:def:crs:EPSG::(\d+)$/,
  /^http:\/\/www\.opengis\.net\/def\/crs\/EPSG\/0\/(\d+)$/
];
function yh(i) {
  let e = 0;
  for (const s of Vd) {
    const r = i.match(s);
    if (r) {
      e = parseInt(r[1]);
      break;
    }
  }
  if (!e)
    return null;
  let t = 0, n = !1;
  return e > 32700 && e < 32761 ? t = e - 32700 : e > 32600 && e < 32661 && (n = !0, t = e - 32600), t ? { number: t, north: n } : null;
}
function Vl(i, e) {
  return function(t, n, s, r) {
    const o = t.length;
    s = s > 1 ? s : 2, r = r ?? s, n || (s > 2 ? n = t.slice() : n = new Array(o));
    for (let a = 0; a < o; a += r) {
      const l = t[a], c = t[a + 1], h = i(l, c, e);
      n[a] = h[0], n[a + 1] = h[1];
    }
    return n;
  };
}
function Xd(i) {
  return yh(i) ? new Sa({ code: i, units: "m" }) : null;
}
function jd(i) {
  const e = yh(i.getCode());
  return e ? {
    forward: Vl(Wd, e),
    inverse: Vl(Ud, e)
  } : null;
}
const Yd = 63710088e-1;
function Ho(i, e, t) {
  t = t || Yd;
  const n = En(i[1]), s = En(e[1]), r = (s - n) / 2, o = En(e[0] - i[0]) / 2, a = Math.sin(r) * Math.sin(r) + Math.sin(o) * Math.sin(o) * Math.cos(n) * Math.cos(s);
  return 2 * t * Math.atan2(Math.sqrt(a), Math.sqrt(1 - a));
}
const Zd = [jd], Kd = [Xd];
let qo = !0;
function xh(i) {
  qo = !1;
}
function Pa(i, e) {
  if (e !== void 0) {
    for (let t = 0, n = i.length; t < n; ++t)
      e[t] = i[t];
    e = e;
  } else
    e = i.slice();
  return e;
}
function Jo(i) {
  Ld(i.getCode(), i), as(i, i, Pa);
}
function Hd(i) {
  i.forEach(Jo);
}
function me(i) {
  if (typeof i != "string")
    return i;
  const e = bd(i);
  if (e)
    return e;
  for (const t of Kd) {
    const n = t(i);
    if (n)
      return n;
  }
  return null;
}
function Qo(i, e, t, n) {
  i = me(i);
  let s;
  const r = i.getPointResolutionFunc();
  if (r) {
    if (s = r(e, t), n && n !== i.getUnits()) {
      const o = i.getMetersPerUnit();
      o && (s = s * o / os[n]);
    }
  } else {
    const o = i.getUnits();
    if (o == "degrees" && !n || n == "degrees")
      s = e;
    else {
      const a = Aa(
        i,
        me("EPSG:4326")
      );
      if (!a && o !== "degrees")
        s = e * i.getMetersPerUnit();
      else {
        let c = [
          t[0] - e / 2,
          t[1],
          t[0] + e / 2,
          t[1],
          t[0],
          t[1] - e / 2,
          t[0],
          t[1] + e / 2
        ];
        c = a(c, c, 2);
        const h = Ho(c.slice(0, 2), c.slice(2, 4)), u = Ho(c.slice(4, 6), c.slice(6, 8));
        s = (h + u) / 2;
      }
      const l = n ? os[n] : i.getMetersPerUnit();
      l !== void 0 && (s /= l);
    }
  }
  return s;
}
function Xl(i) {
  Hd(i), i.forEach(function(e) {
    i.forEach(function(t) {
      e !== t && as(e, t, Pa);
    });
  });
}
function qd(i, e, t, n) {
  i.forEach(function(s) {
    e.forEach(function(r) {
      as(s, r, t), as(r, s, n);
    });
  });
}
function Ia(i, e) {
  return i ? typeof i == "string" ? me(i) : (
    /** @type {Projection} */
    i
  ) : me(e);
}
function Jd(i) {
  return (
    /**
     * @param {Array<number>} input Input.
     * @param {Array<number>} [output] Output.
     * @param {number} [dimension] Dimensions that should be transformed.
     * @param {number} [stride] Stride.
     * @return {Array<number>} Output.
     */
    (function(e, t, n, s) {
      const r = e.length;
      n = n !== void 0 ? n : 2, s = s ?? n, t = t !== void 0 ? t : new Array(r);
      for (let o = 0; o < r; o += s) {
        const a = i(e.slice(o, o + n)), l = a.length;
        for (let c = 0, h = s; c < h; ++c)
          t[o + c] = c >= l ? e[o + c] : a[c];
      }
      return t;
    })
  );
}
function ls(i, e) {
  return xh(), Gr(
    i,
    "EPSG:4326",
    "EPSG:3857"
  );
}
function cs(i, e) {
  const t = Gr(
    i,
    "EPSG:3857",
    "EPSG:4326"
  ), n = t[0];
  return (n < -180 || n > 180) && (t[0] = kn(n + 180, 360) - 180), t;
}
function ts(i, e) {
  if (i === e)
    return !0;
  const t = i.getUnits() === e.getUnits();
  return (i.getCode() === e.getCode() || Aa(i, e) === Pa) && t;
}
function Aa(i, e) {
  const t = i.getCode(), n = e.getCode();
  let s = oo(t, n);
  if (s)
    return s;
  let r = null, o = null;
  for (const l of Zd)
    r || (r = l(i)), o || (o = l(e));
  if (!r && !o)
    return null;
  const a = "EPSG:4326";
  if (o)
    if (r)
      s = ao(
        r.inverse,
        o.forward
      );
    else {
      const l = oo(t, a);
      l && (s = ao(
        l,
        o.forward
      ));
    }
  else {
    const l = oo(a, n);
    l && (s = ao(
      r.inverse,
      l
    ));
  }
  return s && (Jo(i), Jo(e), as(i, e, s)), s;
}
function ao(i, e) {
  return function(t, n, s, r) {
    return n = i(t, n, s, r), e(n, n, s, r);
  };
}
function hs(i, e) {
  const t = me(i), n = me(e);
  return Aa(t, n);
}
function Gr(i, e, t) {
  const n = hs(e, t);
  if (!n) {
    const s = me(e).getCode(), r = me(t).getCode();
    throw new Error(
      `No transform available between ${s} and ${r}`
    );
  }
  return n(i, void 0, i.length);
}
function Un(i, e) {
  return i;
}
function ge(i, e) {
  return qo && !Ze(i, [0, 0]) && i[0] >= -180 && i[0] <= 180 && i[1] >= -90 && i[1] <= 90 && (qo = !1, rh(
    "Call useGeographic() from ol/proj once to work with [longitude, latitude] coordinates."
  )), i;
}
function Fa(i, e) {
  return i;
}
function en(i, e) {
  return i;
}
function Qd() {
  Xl(Gl), Xl(Ul), qd(
    Ul,
    Gl,
    Pd,
    Id
  );
}
Qd();
const ef = {
  key: 0,
  class: "advanced-panel"
}, tf = { class: "fields-container" }, nf = { class: "input-wrap" }, sf = ["disabled"], rf = { class: "input-wrap" }, of = ["disabled"], af = { class: "field-set" }, lf = { class: "input-wrap" }, cf = ["disabled"], hf = { class: "field-set" }, uf = { class: "input-wrap" }, df = ["disabled"], ff = /* @__PURE__ */ Wn({
  __name: "MapAdvancedPanel",
  props: {
    isOpen: { type: Boolean },
    coordinates: {}
  },
  emits: ["open-paste-dialog", "save"],
  setup(i, { emit: e }) {
    const t = i, n = e, s = Me(), r = Me(), o = Me(), a = Me(), l = yt(() => !t.coordinates?.length), c = yt(() => sd(s.value) && !Nl(s.value, r.value)), h = yt(() => rd(r.value) && !Nl(s.value, r.value));
    Tt(
      () => t.coordinates,
      (d) => {
        if (d) {
          [r.value, s.value, a.value, o.value] = d;
          return;
        }
        o.value = void 0, s.value = void 0, a.value = void 0, r.value = void 0;
      },
      { immediate: !0 }
    );
    const u = () => {
      if (!c.value || !h.value)
        return;
      const d = xa(
        Number(r.value),
        Number(s.value),
        Number(a.value),
        Number(o.value)
      );
      d.length && n("save", ls(d));
    };
    return (d, f) => (te(), it(qu, { name: "panel" }, {
      default: We(() => [
        i.isOpen ? (te(), _e("div", ef, [
          N("div", tf, [
            N("div", {
              class: On([{ "field-error": !l.value && !h.value }, "field-set"])
            }, [
              N("div", nf, [
                f[5] || (f[5] = N("label", { for: "longitude" }, "Longitude", -1)),
                Ws(N("input", {
                  id: "longitude",
                  "onUpdate:modelValue": f[0] || (f[0] = (g) => r.value = g),
                  type: "number",
                  disabled: l.value,
                  onChange: u
                }, null, 40, sf), [
                  [Vs, r.value]
                ])
              ]),
              f[6] || (f[6] = N("p", { class: "field-error-message" }, " Longitude is invalid ", -1))
            ], 2),
            N("div", {
              class: On([{ "field-error": !l.value && !c.value }, "field-set"])
            }, [
              N("div", rf, [
                f[7] || (f[7] = N("label", { for: "latitude" }, "Latitude", -1)),
                Ws(N("input", {
                  id: "latitude",
                  "onUpdate:modelValue": f[1] || (f[1] = (g) => s.value = g),
                  type: "number",
                  disabled: l.value,
                  onChange: u
                }, null, 40, of), [
                  [Vs, s.value]
                ])
              ]),
              f[8] || (f[8] = N("p", { class: "field-error-message" }, " Latitude is invalid ", -1))
            ], 2),
            N("div", af, [
              N("div", lf, [
                f[9] || (f[9] = N("label", { for: "altitude" }, "Altitude", -1)),
                Ws(N("input", {
                  id: "altitude",
                  "onUpdate:modelValue": f[2] || (f[2] = (g) => a.value = g),
                  type: "number",
                  disabled: l.value,
                  onChange: u
                }, null, 40, cf), [
                  [Vs, a.value]
                ])
              ])
            ]),
            N("div", hf, [
              N("div", uf, [
                f[10] || (f[10] = N("label", { for: "accuracy" }, "Accuracy", -1)),
                Ws(N("input", {
                  id: "accuracy",
                  "onUpdate:modelValue": f[3] || (f[3] = (g) => o.value = g),
                  type: "number",
                  disabled: l.value,
                  onChange: u
                }, null, 40, df), [
                  [Vs, o.value]
                ])
              ])
            ])
          ]),
          N("a", {
            class: "paste-location",
            onClick: f[4] || (f[4] = (g) => n("open-paste-dialog"))
          }, [
            he(Be, {
              name: "mdiFileOutline",
              size: "sm"
            }),
            f[11] || (f[11] = N("strong", null, "Import data to replace location", -1))
          ])
        ])) : Ee("", !0)
      ]),
      _: 1
    }));
  }
}), gf = /* @__PURE__ */ Li(ff, [["__scopeId", "data-v-61c2293c"]]), _f = { key: 0 }, mf = { key: 1 }, pf = { key: 0 }, yf = { key: 1 }, xf = /* @__PURE__ */ Wn({
  __name: "MapConfirmDialog",
  props: {
    singleFeatureType: {},
    visible: { type: Boolean }
  },
  emits: ["update:visible", "deleteFeature"],
  setup(i, { emit: e }) {
    const t = e;
    return (n, s) => (te(), it(Q(sh), {
      visible: i.visible,
      modal: "",
      class: "map-block-dialog",
      draggable: !1,
      "onUpdate:visible": s[1] || (s[1] = (r) => t("update:visible", r))
    }, {
      header: We(() => [
        i.singleFeatureType === Q(ve).SHAPE ? (te(), _e("strong", _f, "Delete entire shape?")) : (te(), _e("strong", mf, "Delete entire trace?"))
      ]),
      default: We(() => [
        i.singleFeatureType === Q(ve).SHAPE ? (te(), _e("p", pf, " Are you sure you want to delete this entire shape and start over? ")) : (te(), _e("p", yf, " Are you sure you want to delete this entire trace and start over? "))
      ]),
      footer: We(() => [
        he(Q(Gt), {
          label: "Delete",
          onClick: s[0] || (s[0] = (r) => t("deleteFeature"))
        })
      ]),
      _: 1
    }, 8, ["visible"]));
  }
}), Ef = { class: "control-bar-vertical" }, vf = ["disabled"], Cf = {
  key: 0,
  class: "control-bar-horizontal"
}, Tf = ["disabled"], Sf = ["disabled"], Rf = /* @__PURE__ */ Wn({
  __name: "MapControls",
  props: {
    isFullScreen: { type: Boolean },
    disableFitAllFeatures: { type: Boolean },
    disableUndo: { type: Boolean },
    disableDelete: { type: Boolean },
    showSecondaryControls: { type: Boolean }
  },
  emits: [
    "toggleFullScreen",
    "fitAllFeatures",
    "watchCurrentLocation",
    "triggerDelete",
    "undoLastChange"
  ],
  setup(i, { emit: e }) {
    const t = e;
    return (n, s) => (te(), _e("div", {
      class: On(["control-bar", { "full-screen-active": i.isFullScreen }])
    }, [
      N("div", Ef, [
        N("button", {
          title: "Full Screen",
          onClick: s[0] || (s[0] = (r) => t("toggleFullScreen"))
        }, [
          i.isFullScreen ? (te(), it(Be, {
            key: 0,
            name: "mdiArrowCollapse"
          })) : (te(), it(Be, {
            key: 1,
            name: "mdiArrowExpand"
          }))
        ]),
        N("button", {
          class: "zoom-fit-all",
          title: "Zoom to fit",
          disabled: i.disableFitAllFeatures,
          onClick: s[1] || (s[1] = (r) => t("fitAllFeatures"))
        }, [
          he(Be, { name: "mdiFullscreen" })
        ], 8, vf),
        N("button", {
          class: "zoom-current-location",
          title: "Zoom to current location",
          onClick: s[2] || (s[2] = (r) => t("watchCurrentLocation"))
        }, [
          he(Be, {
            name: "mdiCrosshairsGps",
            size: "sm"
          })
        ])
      ]),
      i.showSecondaryControls ? (te(), _e("div", Cf, [
        N("button", {
          title: "Delete",
          disabled: i.disableDelete,
          onClick: s[3] || (s[3] = (r) => t("triggerDelete"))
        }, [
          he(Be, { name: "mdiTrashCanOutline" })
        ], 8, Tf),
        N("button", {
          title: "Undo last change",
          disabled: i.disableUndo,
          onClick: s[4] || (s[4] = (r) => t("undoLastChange"))
        }, [
          he(Be, { name: "mdiArrowULeftTop" })
        ], 8, Sf)
      ])) : Ee("", !0)
    ], 2));
  }
}), wf = /* @__PURE__ */ Li(Rf, [["__scopeId", "data-v-b324b2c9"]]);
function X() {
  throw new Error("Unimplemented abstract method.");
}
let Pf = 0;
function z(i) {
  return i.ol_uid || (i.ol_uid = String(++Pf));
}
const Ii = {
  /**
   * Triggered when a property is changed.
   * @event module:ol/Object.ObjectEvent#propertychange
   * @api
   */
  PROPERTYCHANGE: "propertychange"
}, Y = {
  /**
   * Generic change event. Triggered when the revision counter is increased.
   * @event module:ol/events/Event~BaseEvent#change
   * @api
   */
  CHANGE: "change",
  /**
   * Generic error event. Triggered when an error occurs.
   * @event module:ol/events/Event~BaseEvent#error
   * @api
   */
  ERROR: "error",
  CONTEXTMENU: "contextmenu",
  CLICK: "click",
  DBLCLICK: "dblclick",
  KEYDOWN: "keydown",
  KEYPRESS: "keypress",
  LOAD: "load",
  TOUCHMOVE: "touchmove",
  WHEEL: "wheel"
};
class bs {
  constructor() {
    this.disposed = !1;
  }
  /**
   * Clean up.
   */
  dispose() {
    this.disposed || (this.disposed = !0, this.disposeInternal());
  }
  /**
   * Extension point for disposable objects.
   * @protected
   */
  disposeInternal() {
  }
}
function If(i, e, t) {
  let n, s;
  t = t || nn;
  let r = 0, o = i.length, a = !1;
  for (; r < o; )
    n = r + (o - r >> 1), s = +t(i[n], e), s < 0 ? r = n + 1 : (o = n, a = !s);
  return a ? r : ~r;
}
function nn(i, e) {
  return i > e ? 1 : i < e ? -1 : 0;
}
function Af(i, e) {
  return i < e ? 1 : i > e ? -1 : 0;
}
function ba(i, e, t) {
  if (i[0] <= e)
    return 0;
  const n = i.length;
  if (e <= i[n - 1])
    return n - 1;
  if (typeof t == "function") {
    for (let s = 1; s < n; ++s) {
      const r = i[s];
      if (r === e)
        return s;
      if (r < e)
        return t(e, i[s - 1], r) > 0 ? s - 1 : s;
    }
    return n - 1;
  }
  if (t > 0) {
    for (let s = 1; s < n; ++s)
      if (i[s] < e)
        return s - 1;
    return n - 1;
  }
  if (t < 0) {
    for (let s = 1; s < n; ++s)
      if (i[s] <= e)
        return s;
    return n - 1;
  }
  for (let s = 1; s < n; ++s) {
    if (i[s] == e)
      return s;
    if (i[s] < e)
      return i[s - 1] - e < e - i[s] ? s - 1 : s;
  }
  return n - 1;
}
function Ff(i, e, t) {
  for (; e < t; ) {
    const n = i[e];
    i[e] = i[t], i[t] = n, ++e, --t;
  }
}
function Bt(i, e) {
  const t = Array.isArray(e) ? e : [e], n = t.length;
  for (let s = 0; s < n; s++)
    i[i.length] = t[s];
}
function $t(i, e) {
  const t = i.length;
  if (t !== e.length)
    return !1;
  for (let n = 0; n < t; n++)
    if (i[n] !== e[n])
      return !1;
  return !0;
}
function bf(i, e, t) {
  const n = e || nn;
  return i.every(function(s, r) {
    if (r === 0)
      return !0;
    const o = n(i[r - 1], s);
    return !(o > 0 || o === 0);
  });
}
function zn() {
  return !0;
}
function Ls() {
  return !1;
}
function us() {
}
function Eh(i) {
  let e, t, n;
  return function() {
    const s = Array.prototype.slice.call(arguments);
    return (!t || this !== n || !$t(s, t)) && (n = this, t = s, e = i.apply(this, arguments)), e;
  };
}
function Lf(i) {
  function e() {
    let t;
    try {
      t = i();
    } catch (n) {
      return Promise.reject(n);
    }
    return t instanceof Promise ? t : Promise.resolve(t);
  }
  return e();
}
class At {
  /**
   * @param {string} type Type.
   */
  constructor(e) {
    this.propagationStopped, this.defaultPrevented, this.type = e, this.target = null;
  }
  /**
   * Prevent default. This means that no emulated `click`, `singleclick` or `doubleclick` events
   * will be fired.
   * @api
   */
  preventDefault() {
    this.defaultPrevented = !0;
  }
  /**
   * Stop event propagation.
   * @api
   */
  stopPropagation() {
    this.propagationStopped = !0;
  }
}
class Br extends bs {
  /**
   * @param {*} [target] Default event target for dispatched events.
   */
  constructor(e) {
    super(), this.eventTarget_ = e, this.pendingRemovals_ = null, this.dispatching_ = null, this.listeners_ = null;
  }
  /**
   * @param {string} type Type.
   * @param {import("../events.js").Listener} listener Listener.
   */
  addEventListener(e, t) {
    if (!e || !t)
      return;
    const n = this.listeners_ || (this.listeners_ = {}), s = n[e] || (n[e] = []);
    s.includes(t) || s.push(t);
  }
  /**
   * Dispatches an event and calls all listeners listening for events
   * of this type. The event parameter can either be a string or an
   * Object with a `type` property.
   *
   * @param {import("./Event.js").default|string} event Event object.
   * @return {boolean|undefined} `false` if anyone called preventDefault on the
   *     event object or if any of the listeners returned false.
   * @api
   */
  dispatchEvent(e) {
    const t = typeof e == "string", n = t ? e : e.type, s = this.listeners_ && this.listeners_[n];
    if (!s)
      return;
    const r = t ? new At(e) : (
      /** @type {Event} */
      e
    );
    r.target || (r.target = this.eventTarget_ || this);
    const o = this.dispatching_ || (this.dispatching_ = {}), a = this.pendingRemovals_ || (this.pendingRemovals_ = {});
    n in o || (o[n] = 0, a[n] = 0), ++o[n];
    let l;
    for (let c = 0, h = s.length; c < h; ++c)
      if ("handleEvent" in s[c] ? l = /** @type {import("../events.js").ListenerObject} */
      s[c].handleEvent(r) : l = /** @type {import("../events.js").ListenerFunction} */
      s[c].call(this, r), l === !1 || r.propagationStopped) {
        l = !1;
        break;
      }
    if (--o[n] === 0) {
      let c = a[n];
      for (delete a[n]; c--; )
        this.removeEventListener(n, us);
      delete o[n];
    }
    return l;
  }
  /**
   * Clean up.
   * @override
   */
  disposeInternal() {
    this.listeners_ && Mi(this.listeners_);
  }
  /**
   * Get the listeners for a specified event type. Listeners are returned in the
   * order that they will be called in.
   *
   * @param {string} type Type.
   * @return {Array<import("../events.js").Listener>|undefined} Listeners.
   */
  getListeners(e) {
    return this.listeners_ && this.listeners_[e] || void 0;
  }
  /**
   * @param {string} [type] Type. If not provided,
   *     `true` will be returned if this event target has any listeners.
   * @return {boolean} Has listeners.
   */
  hasListener(e) {
    return this.listeners_ ? e ? e in this.listeners_ : Object.keys(this.listeners_).length > 0 : !1;
  }
  /**
   * @param {string} type Type.
   * @param {import("../events.js").Listener} listener Listener.
   */
  removeEventListener(e, t) {
    if (!this.listeners_)
      return;
    const n = this.listeners_[e];
    if (!n)
      return;
    const s = n.indexOf(t);
    s !== -1 && (this.pendingRemovals_ && e in this.pendingRemovals_ ? (n[s] = us, ++this.pendingRemovals_[e]) : (n.splice(s, 1), n.length === 0 && delete this.listeners_[e]));
  }
}
function ne(i, e, t, n, s) {
  if (s) {
    const o = t;
    t = function(a) {
      return i.removeEventListener(e, t), o.call(n ?? this, a);
    };
  } else n && n !== i && (t = t.bind(n));
  const r = {
    target: i,
    type: e,
    listener: t
  };
  return i.addEventListener(e, t), r;
}
function mr(i, e, t, n) {
  return ne(i, e, t, n, !0);
}
function ce(i) {
  i && i.target && (i.target.removeEventListener(i.type, i.listener), Mi(i));
}
class Ms extends Br {
  constructor() {
    super(), this.on = /** @type {ObservableOnSignature<import("./events").EventsKey>} */
    this.onInternal, this.once = /** @type {ObservableOnSignature<import("./events").EventsKey>} */
    this.onceInternal, this.un = /** @type {ObservableOnSignature<void>} */
    this.unInternal, this.revision_ = 0;
  }
  /**
   * Increases the revision counter and dispatches a 'change' event.
   * @api
   */
  changed() {
    ++this.revision_, this.dispatchEvent(Y.CHANGE);
  }
  /**
   * Get the version number for this object.  Each time the object is modified,
   * its version number will be incremented.
   * @return {number} Revision.
   * @api
   */
  getRevision() {
    return this.revision_;
  }
  /**
   * @param {string|Array<string>} type Type.
   * @param {function((Event|import("./events/Event").default)): ?} listener Listener.
   * @return {import("./events.js").EventsKey|Array<import("./events.js").EventsKey>} Event key.
   * @protected
   */
  onInternal(e, t) {
    if (Array.isArray(e)) {
      const n = e.length, s = new Array(n);
      for (let r = 0; r < n; ++r)
        s[r] = ne(this, e[r], t);
      return s;
    }
    return ne(
      this,
      /** @type {string} */
      e,
      t
    );
  }
  /**
   * @param {string|Array<string>} type Type.
   * @param {function((Event|import("./events/Event").default)): ?} listener Listener.
   * @return {import("./events.js").EventsKey|Array<import("./events.js").EventsKey>} Event key.
   * @protected
   */
  onceInternal(e, t) {
    let n;
    if (Array.isArray(e)) {
      const s = e.length;
      n = new Array(s);
      for (let r = 0; r < s; ++r)
        n[r] = mr(this, e[r], t);
    } else
      n = mr(
        this,
        /** @type {string} */
        e,
        t
      );
    return t.ol_key = n, n;
  }
  /**
   * Unlisten for a certain type of event.
   * @param {string|Array<string>} type Type.
   * @param {function((Event|import("./events/Event").default)): ?} listener Listener.
   * @protected
   */
  unInternal(e, t) {
    const n = (
      /** @type {Object} */
      t.ol_key
    );
    if (n)
      Mf(n);
    else if (Array.isArray(e))
      for (let s = 0, r = e.length; s < r; ++s)
        this.removeEventListener(e[s], t);
    else
      this.removeEventListener(e, t);
  }
}
Ms.prototype.on;
Ms.prototype.once;
Ms.prototype.un;
function Mf(i) {
  if (Array.isArray(i))
    for (let e = 0, t = i.length; e < t; ++e)
      ce(i[e]);
  else
    ce(
      /** @type {import("./events.js").EventsKey} */
      i
    );
}
class jl extends At {
  /**
   * @param {string} type The event type.
   * @param {string} key The property name.
   * @param {*} oldValue The old value for `key`.
   */
  constructor(e, t, n) {
    super(e), this.key = t, this.oldValue = n;
  }
}
class Wt extends Ms {
  /**
   * @param {Object<string, *>} [values] An object with key-value pairs.
   */
  constructor(e) {
    super(), this.on, this.once, this.un, z(this), this.values_ = null, e !== void 0 && this.setProperties(e);
  }
  /**
   * Gets a value.
   * @param {string} key Key name.
   * @return {*} Value.
   * @api
   */
  get(e) {
    let t;
    return this.values_ && this.values_.hasOwnProperty(e) && (t = this.values_[e]), t;
  }
  /**
   * Get a list of object property names.
   * @return {Array<string>} List of property names.
   * @api
   */
  getKeys() {
    return this.values_ && Object.keys(this.values_) || [];
  }
  /**
   * Get an object of all property names and values.
   * @return {Object<string, *>} Object.
   * @api
   */
  getProperties() {
    return this.values_ && Object.assign({}, this.values_) || {};
  }
  /**
   * Get an object of all property names and values.
   * @return {Object<string, *>?} Object.
   */
  getPropertiesInternal() {
    return this.values_;
  }
  /**
   * @return {boolean} The object has properties.
   */
  hasProperties() {
    return !!this.values_;
  }
  /**
   * @param {string} key Key name.
   * @param {*} oldValue Old value.
   */
  notify(e, t) {
    let n;
    n = `change:${e}`, this.hasListener(n) && this.dispatchEvent(new jl(n, e, t)), n = Ii.PROPERTYCHANGE, this.hasListener(n) && this.dispatchEvent(new jl(n, e, t));
  }
  /**
   * @param {string} key Key name.
   * @param {import("./events.js").Listener} listener Listener.
   */
  addChangeListener(e, t) {
    this.addEventListener(`change:${e}`, t);
  }
  /**
   * @param {string} key Key name.
   * @param {import("./events.js").Listener} listener Listener.
   */
  removeChangeListener(e, t) {
    this.removeEventListener(`change:${e}`, t);
  }
  /**
   * Sets a value.
   * @param {string} key Key name.
   * @param {*} value Value.
   * @param {boolean} [silent] Update without triggering an event.
   * @api
   */
  set(e, t, n) {
    const s = this.values_ || (this.values_ = {});
    if (n)
      s[e] = t;
    else {
      const r = s[e];
      s[e] = t, r !== t && this.notify(e, r);
    }
  }
  /**
   * Sets a collection of key-value pairs.  Note that this changes any existing
   * properties and adds new ones (it does not remove any existing properties).
   * @param {Object<string, *>} values Values.
   * @param {boolean} [silent] Update without triggering an event.
   * @api
   */
  setProperties(e, t) {
    for (const n in e)
      this.set(n, e[n], t);
  }
  /**
   * Apply any properties from another object without triggering events.
   * @param {BaseObject} source The source object.
   * @protected
   */
  applyProperties(e) {
    e.values_ && Object.assign(this.values_ || (this.values_ = {}), e.values_);
  }
  /**
   * Unsets a property.
   * @param {string} key Key name.
   * @param {boolean} [silent] Unset without triggering an event.
   * @api
   */
  unset(e, t) {
    if (this.values_ && e in this.values_) {
      const n = this.values_[e];
      delete this.values_[e], Bn(this.values_) && (this.values_ = null), t || this.notify(e, n);
    }
  }
}
function ie(i, e) {
  if (!i)
    throw new Error(e);
}
const Df = new Array(6);
function we() {
  return [1, 0, 0, 1, 0, 0];
}
function vh(i, e) {
  const t = i[0], n = i[1], s = i[2], r = i[3], o = i[4], a = i[5], l = e[0], c = e[1], h = e[2], u = e[3], d = e[4], f = e[5];
  return i[0] = t * l + s * c, i[1] = n * l + r * c, i[2] = t * h + s * u, i[3] = n * h + r * u, i[4] = t * d + s * f + o, i[5] = n * d + r * f + a, i;
}
function Of(i, e, t, n, s, r, o) {
  return i[0] = e, i[1] = t, i[2] = n, i[3] = s, i[4] = r, i[5] = o, i;
}
function Ch(i, e) {
  return i[0] = e[0], i[1] = e[1], i[2] = e[2], i[3] = e[3], i[4] = e[4], i[5] = e[5], i;
}
function xe(i, e) {
  const t = e[0], n = e[1];
  return e[0] = i[0] * t + i[2] * n + i[4], e[1] = i[1] * t + i[3] * n + i[5], e;
}
function Nf(i, e, t) {
  return vh(i, Of(Df, 1, 0, 0, 1, e, t));
}
function wt(i, e, t, n, s, r, o, a) {
  const l = Math.sin(r), c = Math.cos(r);
  return i[0] = n * c, i[1] = s * l, i[2] = -n * l, i[3] = s * c, i[4] = o * n * c - a * n * l + e, i[5] = o * s * l + a * s * c + t, i;
}
function ds(i, e) {
  const t = kf(e);
  ie(t !== 0, "Transformation matrix cannot be inverted");
  const n = e[0], s = e[1], r = e[2], o = e[3], a = e[4], l = e[5];
  return i[0] = o / t, i[1] = -s / t, i[2] = -r / t, i[3] = n / t, i[4] = (r * l - o * a) / t, i[5] = -(n * l - s * a) / t, i;
}
function kf(i) {
  return i[0] * i[3] - i[1] * i[2];
}
const Gf = [1e5, 1e5, 1e5, 1e5, 2, 2];
function Bf(i) {
  return "matrix(" + i.join(", ") + ")";
}
function ea(i) {
  return i.substring(7, i.length - 1).split(",").map(parseFloat);
}
function Uf(i, e) {
  const t = ea(i), n = ea(e);
  for (let s = 0; s < 6; ++s)
    if (Math.round((t[s] - n[s]) * Gf[s]) !== 0)
      return !1;
  return !0;
}
function Ut(i, e, t, n, s, r, o) {
  r = r || [], o = o || 2;
  let a = 0;
  for (let l = e; l < t; l += n) {
    const c = i[l], h = i[l + 1];
    r[a++] = s[0] * c + s[2] * h + s[4], r[a++] = s[1] * c + s[3] * h + s[5];
    for (let u = 2; u < o; u++)
      r[a++] = i[l + u];
  }
  return r && r.length != a && (r.length = a), r;
}
function Th(i, e, t, n, s, r, o) {
  o = o || [];
  const a = Math.cos(s), l = Math.sin(s), c = r[0], h = r[1];
  let u = 0;
  for (let d = e; d < t; d += n) {
    const f = i[d] - c, g = i[d + 1] - h;
    o[u++] = c + f * a - g * l, o[u++] = h + f * l + g * a;
    for (let m = d + 2; m < d + n; ++m)
      o[u++] = i[m];
  }
  return o && o.length != u && (o.length = u), o;
}
function zf(i, e, t, n, s, r, o, a) {
  a = a || [];
  const l = o[0], c = o[1];
  let h = 0;
  for (let u = e; u < t; u += n) {
    const d = i[u] - l, f = i[u + 1] - c;
    a[h++] = l + s * d, a[h++] = c + r * f;
    for (let g = u + 2; g < u + n; ++g)
      a[h++] = i[g];
  }
  return a && a.length != h && (a.length = h), a;
}
function $f(i, e, t, n, s, r, o) {
  o = o || [];
  let a = 0;
  for (let l = e; l < t; l += n) {
    o[a++] = i[l] + s, o[a++] = i[l + 1] + r;
    for (let c = l + 2; c < l + n; ++c)
      o[a++] = i[c];
  }
  return o && o.length != a && (o.length = a), o;
}
const Yl = we(), Wf = [NaN, NaN];
class Sh extends Wt {
  constructor() {
    super(), this.extent_ = ut(), this.extentRevision_ = -1, this.simplifiedGeometryMaxMinSquaredTolerance = 0, this.simplifiedGeometryRevision = 0, this.simplifyTransformedInternal = Eh(
      (e, t, n) => {
        if (!n)
          return this.getSimplifiedGeometry(t);
        const s = this.clone();
        return s.applyTransform(n), s.getSimplifiedGeometry(t);
      }
    );
  }
  /**
   * Get a transformed and simplified version of the geometry.
   * @abstract
   * @param {number} squaredTolerance Squared tolerance.
   * @param {import("../proj.js").TransformFunction} [transform] Optional transform function.
   * @return {Geometry} Simplified geometry.
   */
  simplifyTransformed(e, t) {
    return this.simplifyTransformedInternal(
      this.getRevision(),
      e,
      t
    );
  }
  /**
   * Make a complete copy of the geometry.
   * @abstract
   * @return {!Geometry} Clone.
   */
  clone() {
    return X();
  }
  /**
   * @abstract
   * @param {number} x X.
   * @param {number} y Y.
   * @param {import("../coordinate.js").Coordinate} closestPoint Closest point.
   * @param {number} minSquaredDistance Minimum squared distance.
   * @return {number} Minimum squared distance.
   */
  closestPointXY(e, t, n, s) {
    return X();
  }
  /**
   * @param {number} x X.
   * @param {number} y Y.
   * @return {boolean} Contains (x, y).
   */
  containsXY(e, t) {
    return this.closestPointXY(e, t, Wf, Number.MIN_VALUE) === 0;
  }
  /**
   * Return the closest point of the geometry to the passed point as
   * {@link module:ol/coordinate~Coordinate coordinate}.
   * @param {import("../coordinate.js").Coordinate} point Point.
   * @param {import("../coordinate.js").Coordinate} [closestPoint] Closest point.
   * @return {import("../coordinate.js").Coordinate} Closest point.
   * @api
   */
  getClosestPoint(e, t) {
    return t = t || [NaN, NaN], this.closestPointXY(e[0], e[1], t, 1 / 0), t;
  }
  /**
   * Returns true if this geometry includes the specified coordinate. If the
   * coordinate is on the boundary of the geometry, returns false.
   * @param {import("../coordinate.js").Coordinate} coordinate Coordinate.
   * @return {boolean} Contains coordinate.
   * @api
   */
  intersectsCoordinate(e) {
    return this.containsXY(e[0], e[1]);
  }
  /**
   * @abstract
   * @param {import("../extent.js").Extent} extent Extent.
   * @protected
   * @return {import("../extent.js").Extent} extent Extent.
   */
  computeExtent(e) {
    return X();
  }
  /**
   * Get the extent of the geometry.
   * @param {import("../extent.js").Extent} [extent] Extent.
   * @return {import("../extent.js").Extent} extent Extent.
   * @api
   */
  getExtent(e) {
    if (this.extentRevision_ != this.getRevision()) {
      const t = this.computeExtent(this.extent_);
      (isNaN(t[0]) || isNaN(t[1])) && Is(t), this.extentRevision_ = this.getRevision();
    }
    return pd(this.extent_, e);
  }
  /**
   * Rotate the geometry around a given coordinate. This modifies the geometry
   * coordinates in place.
   * @abstract
   * @param {number} angle Rotation angle in radians.
   * @param {import("../coordinate.js").Coordinate} anchor The rotation center.
   * @api
   */
  rotate(e, t) {
    X();
  }
  /**
   * Scale the geometry (with an optional origin).  This modifies the geometry
   * coordinates in place.
   * @abstract
   * @param {number} sx The scaling factor in the x-direction.
   * @param {number} [sy] The scaling factor in the y-direction (defaults to sx).
   * @param {import("../coordinate.js").Coordinate} [anchor] The scale origin (defaults to the center
   *     of the geometry extent).
   * @api
   */
  scale(e, t, n) {
    X();
  }
  /**
   * Create a simplified version of this geometry.  For linestrings, this uses
   * the [Douglas Peucker](https://en.wikipedia.org/wiki/Ramer-Douglas-Peucker_algorithm)
   * algorithm.  For polygons, a quantization-based
   * simplification is used to preserve topology.
   * @param {number} tolerance The tolerance distance for simplification.
   * @return {Geometry} A new, simplified version of the original geometry.
   * @api
   */
  simplify(e) {
    return this.getSimplifiedGeometry(e * e);
  }
  /**
   * Create a simplified version of this geometry using the Douglas Peucker
   * algorithm.
   * See https://en.wikipedia.org/wiki/Ramer-Douglas-Peucker_algorithm.
   * @abstract
   * @param {number} squaredTolerance Squared tolerance.
   * @return {Geometry} Simplified geometry.
   */
  getSimplifiedGeometry(e) {
    return X();
  }
  /**
   * Get the type of this geometry.
   * @abstract
   * @return {Type} Geometry type.
   */
  getType() {
    return X();
  }
  /**
   * Apply a transform function to the coordinates of the geometry.
   * The geometry is modified in place.
   * If you do not want the geometry modified in place, first `clone()` it and
   * then use this function on the clone.
   * @abstract
   * @param {import("../proj.js").TransformFunction} transformFn Transform function.
   * Called with a flat array of geometry coordinates.
   */
  applyTransform(e) {
    X();
  }
  /**
   * Test if the geometry and the passed extent intersect.
   * @abstract
   * @param {import("../extent.js").Extent} extent Extent.
   * @return {boolean} `true` if the geometry and the extent intersect.
   */
  intersectsExtent(e) {
    return X();
  }
  /**
   * Translate the geometry.  This modifies the geometry coordinates in place.  If
   * instead you want a new geometry, first `clone()` this geometry.
   * @abstract
   * @param {number} deltaX Delta X.
   * @param {number} deltaY Delta Y.
   * @api
   */
  translate(e, t) {
    X();
  }
  /**
   * Transform each coordinate of the geometry from one coordinate reference
   * system to another. The geometry is modified in place.
   * For example, a line will be transformed to a line and a circle to a circle.
   * If you do not want the geometry modified in place, first `clone()` it and
   * then use this function on the clone.
   *
   * @param {import("../proj.js").ProjectionLike} source The current projection.  Can be a
   *     string identifier or a {@link module:ol/proj/Projection~Projection} object.
   * @param {import("../proj.js").ProjectionLike} destination The desired projection.  Can be a
   *     string identifier or a {@link module:ol/proj/Projection~Projection} object.
   * @return {this} This geometry.  Note that original geometry is
   *     modified in place.
   * @api
   */
  transform(e, t) {
    const n = me(e), s = n.getUnits() == "tile-pixels" ? function(r, o, a) {
      const l = n.getExtent(), c = n.getWorldExtent(), h = He(c) / He(l);
      wt(
        Yl,
        c[0],
        c[3],
        h,
        -h,
        0,
        0,
        0
      );
      const u = Ut(
        r,
        0,
        r.length,
        a,
        Yl,
        o
      ), d = hs(n, t);
      return d ? d(u, u, a) : u;
    } : hs(n, t);
    return this.applyTransform(s), this;
  }
}
class jn extends Sh {
  constructor() {
    super(), this.layout = "XY", this.stride = 2, this.flatCoordinates;
  }
  /**
   * @param {import("../extent.js").Extent} extent Extent.
   * @protected
   * @return {import("../extent.js").Extent} extent Extent.
   * @override
   */
  computeExtent(e) {
    return va(
      this.flatCoordinates,
      0,
      this.flatCoordinates.length,
      this.stride,
      e
    );
  }
  /**
   * @abstract
   * @return {Array<*> | null} Coordinates.
   */
  getCoordinates() {
    return X();
  }
  /**
   * Return the first coordinate of the geometry.
   * @return {import("../coordinate.js").Coordinate} First coordinate.
   * @api
   */
  getFirstCoordinate() {
    return this.flatCoordinates.slice(0, this.stride);
  }
  /**
   * @return {Array<number>} Flat coordinates.
   */
  getFlatCoordinates() {
    return this.flatCoordinates;
  }
  /**
   * Return the last coordinate of the geometry.
   * @return {import("../coordinate.js").Coordinate} Last point.
   * @api
   */
  getLastCoordinate() {
    return this.flatCoordinates.slice(
      this.flatCoordinates.length - this.stride
    );
  }
  /**
   * Return the {@link import("./Geometry.js").GeometryLayout layout} of the geometry.
   * @return {import("./Geometry.js").GeometryLayout} Layout.
   * @api
   */
  getLayout() {
    return this.layout;
  }
  /**
   * Create a simplified version of this geometry using the Douglas Peucker algorithm.
   * @param {number} squaredTolerance Squared tolerance.
   * @return {SimpleGeometry} Simplified geometry.
   * @override
   */
  getSimplifiedGeometry(e) {
    if (this.simplifiedGeometryRevision !== this.getRevision() && (this.simplifiedGeometryMaxMinSquaredTolerance = 0, this.simplifiedGeometryRevision = this.getRevision()), e < 0 || this.simplifiedGeometryMaxMinSquaredTolerance !== 0 && e <= this.simplifiedGeometryMaxMinSquaredTolerance)
      return this;
    const t = this.getSimplifiedGeometryInternal(e);
    return t.getFlatCoordinates().length < this.flatCoordinates.length ? t : (this.simplifiedGeometryMaxMinSquaredTolerance = e, this);
  }
  /**
   * @param {number} squaredTolerance Squared tolerance.
   * @return {SimpleGeometry} Simplified geometry.
   * @protected
   */
  getSimplifiedGeometryInternal(e) {
    return this;
  }
  /**
   * @return {number} Stride.
   */
  getStride() {
    return this.stride;
  }
  /**
   * @param {import("./Geometry.js").GeometryLayout} layout Layout.
   * @param {Array<number>} flatCoordinates Flat coordinates.
   */
  setFlatCoordinates(e, t) {
    this.stride = Zl(e), this.layout = e, this.flatCoordinates = t;
  }
  /**
   * @abstract
   * @param {!Array<*>} coordinates Coordinates.
   * @param {import("./Geometry.js").GeometryLayout} [layout] Layout.
   */
  setCoordinates(e, t) {
    X();
  }
  /**
   * @param {import("./Geometry.js").GeometryLayout|undefined} layout Layout.
   * @param {Array<*>} coordinates Coordinates.
   * @param {number} nesting Nesting.
   * @protected
   */
  setLayout(e, t, n) {
    let s;
    if (e)
      s = Zl(e);
    else {
      for (let r = 0; r < n; ++r) {
        if (t.length === 0) {
          this.layout = "XY", this.stride = 2;
          return;
        }
        t = /** @type {Array<unknown>} */
        t[0];
      }
      s = t.length, e = Yn(s);
    }
    this.layout = e, this.stride = s;
  }
  /**
   * Apply a transform function to the coordinates of the geometry.
   * The geometry is modified in place.
   * If you do not want the geometry modified in place, first `clone()` it and
   * then use this function on the clone.
   * @param {import("../proj.js").TransformFunction} transformFn Transform function.
   * Called with a flat array of geometry coordinates.
   * @api
   * @override
   */
  applyTransform(e) {
    this.flatCoordinates && (e(
      this.flatCoordinates,
      this.flatCoordinates,
      this.layout.startsWith("XYZ") ? 3 : 2,
      this.stride
    ), this.changed());
  }
  /**
   * Rotate the geometry around a given coordinate. This modifies the geometry
   * coordinates in place.
   * @param {number} angle Rotation angle in counter-clockwise radians.
   * @param {import("../coordinate.js").Coordinate} anchor The rotation center.
   * @api
   * @override
   */
  rotate(e, t) {
    const n = this.getFlatCoordinates();
    if (n) {
      const s = this.getStride();
      Th(
        n,
        0,
        n.length,
        s,
        e,
        t,
        n
      ), this.changed();
    }
  }
  /**
   * Scale the geometry (with an optional origin).  This modifies the geometry
   * coordinates in place.
   * @param {number} sx The scaling factor in the x-direction.
   * @param {number} [sy] The scaling factor in the y-direction (defaults to sx).
   * @param {import("../coordinate.js").Coordinate} [anchor] The scale origin (defaults to the center
   *     of the geometry extent).
   * @api
   * @override
   */
  scale(e, t, n) {
    t === void 0 && (t = e), n || (n = zt(this.getExtent()));
    const s = this.getFlatCoordinates();
    if (s) {
      const r = this.getStride();
      zf(
        s,
        0,
        s.length,
        r,
        e,
        t,
        n,
        s
      ), this.changed();
    }
  }
  /**
   * Translate the geometry.  This modifies the geometry coordinates in place.  If
   * instead you want a new geometry, first `clone()` this geometry.
   * @param {number} deltaX Delta X.
   * @param {number} deltaY Delta Y.
   * @api
   * @override
   */
  translate(e, t) {
    const n = this.getFlatCoordinates();
    if (n) {
      const s = this.getStride();
      $f(
        n,
        0,
        n.length,
        s,
        e,
        t,
        n
      ), this.changed();
    }
  }
}
function Yn(i) {
  let e;
  return i == 2 ? e = "XY" : i == 3 ? e = "XYZ" : i == 4 && (e = "XYZM"), /** @type {import("./Geometry.js").GeometryLayout} */
  e;
}
function Zl(i) {
  let e;
  return i == "XY" ? e = 2 : i == "XYZ" || i == "XYM" ? e = 3 : i == "XYZM" && (e = 4), /** @type {number} */
  e;
}
function Vf(i, e, t) {
  const n = i.getFlatCoordinates();
  if (!n)
    return null;
  const s = i.getStride();
  return Ut(
    n,
    0,
    n.length,
    s,
    e,
    t
  );
}
function Xf(i, e, t, n) {
  for (let s = 0, r = t.length; s < r; ++s)
    i[e++] = t[s];
  return e;
}
function Ur(i, e, t, n) {
  for (let s = 0, r = t.length; s < r; ++s) {
    const o = t[s];
    for (let a = 0; a < n; ++a)
      i[e++] = o[a];
  }
  return e;
}
function Ds(i, e, t, n, s) {
  s = s || [];
  let r = 0;
  for (let o = 0, a = t.length; o < a; ++o) {
    const l = Ur(
      i,
      e,
      t[o],
      n
    );
    s[r++] = l, e = l;
  }
  return s.length = r, s;
}
function Rh(i, e, t, n, s) {
  s = s || [];
  let r = 0;
  for (let o = 0, a = t.length; o < a; ++o) {
    const l = Ds(
      i,
      e,
      t[o],
      n,
      s[r]
    );
    l.length === 0 && (l[0] = e), s[r++] = l, e = l[l.length - 1];
  }
  return s.length = r, s;
}
class fs extends Sh {
  /**
   * @param {Array<Geometry>} geometries Geometries.
   */
  constructor(e) {
    super(), this.geometries_ = e, this.changeEventsKeys_ = [], this.listenGeometriesChange_();
  }
  /**
   * @private
   */
  unlistenGeometriesChange_() {
    this.changeEventsKeys_.forEach(ce), this.changeEventsKeys_.length = 0;
  }
  /**
   * @private
   */
  listenGeometriesChange_() {
    const e = this.geometries_;
    for (let t = 0, n = e.length; t < n; ++t)
      this.changeEventsKeys_.push(
        ne(e[t], Y.CHANGE, this.changed, this)
      );
  }
  /**
   * Make a complete copy of the geometry.
   * @return {!GeometryCollection} Clone.
   * @api
   * @override
   */
  clone() {
    const e = new fs(
      lo(this.geometries_)
    );
    return e.applyProperties(this), e;
  }
  /**
   * @param {number} x X.
   * @param {number} y Y.
   * @param {import("../coordinate.js").Coordinate} closestPoint Closest point.
   * @param {number} minSquaredDistance Minimum squared distance.
   * @return {number} Minimum squared distance.
   * @override
   */
  closestPointXY(e, t, n, s) {
    if (s < Vn(this.getExtent(), e, t))
      return s;
    const r = this.geometries_;
    for (let o = 0, a = r.length; o < a; ++o)
      s = r[o].closestPointXY(
        e,
        t,
        n,
        s
      );
    return s;
  }
  /**
   * @param {number} x X.
   * @param {number} y Y.
   * @return {boolean} Contains (x, y).
   * @override
   */
  containsXY(e, t) {
    const n = this.geometries_;
    for (let s = 0, r = n.length; s < r; ++s)
      if (n[s].containsXY(e, t))
        return !0;
    return !1;
  }
  /**
   * @param {import("../extent.js").Extent} extent Extent.
   * @protected
   * @return {import("../extent.js").Extent} extent Extent.
   * @override
   */
  computeExtent(e) {
    Is(e);
    const t = this.geometries_;
    for (let n = 0, s = t.length; n < s; ++n)
      ah(e, t[n].getExtent());
    return e;
  }
  /**
   * Return the geometries that make up this geometry collection.
   * @return {Array<Geometry>} Geometries.
   * @api
   */
  getGeometries() {
    return lo(this.geometries_);
  }
  /**
   * @return {Array<Geometry>} Geometries.
   */
  getGeometriesArray() {
    return this.geometries_;
  }
  /**
   * @return {Array<Geometry>} Geometries.
   */
  getGeometriesArrayRecursive() {
    let e = [];
    const t = this.geometries_;
    for (let n = 0, s = t.length; n < s; ++n)
      t[n].getType() === this.getType() ? e = e.concat(
        /** @type {GeometryCollection} */
        t[n].getGeometriesArrayRecursive()
      ) : e.push(t[n]);
    return e;
  }
  /**
   * Create a simplified version of this geometry using the Douglas Peucker algorithm.
   * @param {number} squaredTolerance Squared tolerance.
   * @return {GeometryCollection} Simplified GeometryCollection.
   * @override
   */
  getSimplifiedGeometry(e) {
    if (this.simplifiedGeometryRevision !== this.getRevision() && (this.simplifiedGeometryMaxMinSquaredTolerance = 0, this.simplifiedGeometryRevision = this.getRevision()), e < 0 || this.simplifiedGeometryMaxMinSquaredTolerance !== 0 && e < this.simplifiedGeometryMaxMinSquaredTolerance)
      return this;
    const t = [], n = this.geometries_;
    let s = !1;
    for (let r = 0, o = n.length; r < o; ++r) {
      const a = n[r], l = a.getSimplifiedGeometry(e);
      t.push(l), l !== a && (s = !0);
    }
    return s ? new fs(
      t
    ) : (this.simplifiedGeometryMaxMinSquaredTolerance = e, this);
  }
  /**
   * Get the type of this geometry.
   * @return {import("./Geometry.js").Type} Geometry type.
   * @api
   * @override
   */
  getType() {
    return "GeometryCollection";
  }
  /**
   * Test if the geometry and the passed extent intersect.
   * @param {import("../extent.js").Extent} extent Extent.
   * @return {boolean} `true` if the geometry and the extent intersect.
   * @api
   * @override
   */
  intersectsExtent(e) {
    const t = this.geometries_;
    for (let n = 0, s = t.length; n < s; ++n)
      if (t[n].intersectsExtent(e))
        return !0;
    return !1;
  }
  /**
   * @return {boolean} Is empty.
   */
  isEmpty() {
    return this.geometries_.length === 0;
  }
  /**
   * Rotate the geometry around a given coordinate. This modifies the geometry
   * coordinates in place.
   * @param {number} angle Rotation angle in radians.
   * @param {import("../coordinate.js").Coordinate} anchor The rotation center.
   * @api
   * @override
   */
  rotate(e, t) {
    const n = this.geometries_;
    for (let s = 0, r = n.length; s < r; ++s)
      n[s].rotate(e, t);
    this.changed();
  }
  /**
   * Scale the geometry (with an optional origin).  This modifies the geometry
   * coordinates in place.
   * @abstract
   * @param {number} sx The scaling factor in the x-direction.
   * @param {number} [sy] The scaling factor in the y-direction (defaults to sx).
   * @param {import("../coordinate.js").Coordinate} [anchor] The scale origin (defaults to the center
   *     of the geometry extent).
   * @api
   * @override
   */
  scale(e, t, n) {
    n || (n = zt(this.getExtent()));
    const s = this.geometries_;
    for (let r = 0, o = s.length; r < o; ++r)
      s[r].scale(e, t, n);
    this.changed();
  }
  /**
   * Set the geometries that make up this geometry collection.
   * @param {Array<Geometry>} geometries Geometries.
   * @api
   */
  setGeometries(e) {
    this.setGeometriesArray(lo(e));
  }
  /**
   * @param {Array<Geometry>} geometries Geometries.
   */
  setGeometriesArray(e) {
    this.unlistenGeometriesChange_(), this.geometries_ = e, this.listenGeometriesChange_(), this.changed();
  }
  /**
   * Apply a transform function to the coordinates of the geometry.
   * The geometry is modified in place.
   * If you do not want the geometry modified in place, first `clone()` it and
   * then use this function on the clone.
   * @param {import("../proj.js").TransformFunction} transformFn Transform function.
   * Called with a flat array of geometry coordinates.
   * @api
   * @override
   */
  applyTransform(e) {
    const t = this.geometries_;
    for (let n = 0, s = t.length; n < s; ++n)
      t[n].applyTransform(e);
    this.changed();
  }
  /**
   * Translate the geometry.  This modifies the geometry coordinates in place.  If
   * instead you want a new geometry, first `clone()` this geometry.
   * @param {number} deltaX Delta X.
   * @param {number} deltaY Delta Y.
   * @api
   * @override
   */
  translate(e, t) {
    const n = this.geometries_;
    for (let s = 0, r = n.length; s < r; ++s)
      n[s].translate(e, t);
    this.changed();
  }
  /**
   * Clean up.
   * @override
   */
  disposeInternal() {
    this.unlistenGeometriesChange_(), super.disposeInternal();
  }
}
function lo(i) {
  return i.map((e) => e.clone());
}
function wh(i, e, t, n) {
  let s = 0;
  const r = i[t - n], o = i[t - n + 1];
  let a = 0, l = 0;
  for (; e < t; e += n) {
    const c = i[e] - r, h = i[e + 1] - o;
    s += l * c - a * h, a = c, l = h;
  }
  return s / 2;
}
function Ph(i, e, t, n) {
  let s = 0;
  for (let r = 0, o = t.length; r < o; ++r) {
    const a = t[r];
    s += wh(i, e, a, n), e = a;
  }
  return s;
}
function jf(i, e, t, n) {
  let s = 0;
  for (let r = 0, o = t.length; r < o; ++r) {
    const a = t[r];
    s += Ph(i, e, a, n), e = a[a.length - 1];
  }
  return s;
}
function Kl(i, e, t, n, s, r, o) {
  const a = i[e], l = i[e + 1], c = i[t] - a, h = i[t + 1] - l;
  let u;
  if (c === 0 && h === 0)
    u = e;
  else {
    const d = ((s - a) * c + (r - l) * h) / (c * c + h * h);
    if (d > 1)
      u = t;
    else if (d > 0) {
      for (let f = 0; f < n; ++f)
        o[f] = at(
          i[e + f],
          i[t + f],
          d
        );
      o.length = n;
      return;
    } else
      u = e;
  }
  for (let d = 0; d < n; ++d)
    o[d] = i[u + d];
  o.length = n;
}
function La(i, e, t, n, s) {
  let r = i[e], o = i[e + 1];
  for (e += n; e < t; e += n) {
    const a = i[e], l = i[e + 1], c = tn(r, o, a, l);
    c > s && (s = c), r = a, o = l;
  }
  return s;
}
function Ma(i, e, t, n, s) {
  for (let r = 0, o = t.length; r < o; ++r) {
    const a = t[r];
    s = La(i, e, a, n, s), e = a;
  }
  return s;
}
function Yf(i, e, t, n, s) {
  for (let r = 0, o = t.length; r < o; ++r) {
    const a = t[r];
    s = Ma(i, e, a, n, s), e = a[a.length - 1];
  }
  return s;
}
function Da(i, e, t, n, s, r, o, a, l, c, h) {
  if (e == t)
    return c;
  let u, d;
  if (s === 0) {
    if (d = tn(
      o,
      a,
      i[e],
      i[e + 1]
    ), d < c) {
      for (u = 0; u < n; ++u)
        l[u] = i[e + u];
      return l.length = n, d;
    }
    return c;
  }
  h = h || [NaN, NaN];
  let f = e + n;
  for (; f < t; )
    if (Kl(
      i,
      f - n,
      f,
      n,
      o,
      a,
      h
    ), d = tn(o, a, h[0], h[1]), d < c) {
      for (c = d, u = 0; u < n; ++u)
        l[u] = h[u];
      l.length = n, f += n;
    } else
      f += n * Math.max(
        (Math.sqrt(d) - Math.sqrt(c)) / s | 0,
        1
      );
  if (r && (Kl(
    i,
    t - n,
    e,
    n,
    o,
    a,
    h
  ), d = tn(o, a, h[0], h[1]), d < c)) {
    for (c = d, u = 0; u < n; ++u)
      l[u] = h[u];
    l.length = n;
  }
  return c;
}
function Oa(i, e, t, n, s, r, o, a, l, c, h) {
  h = h || [NaN, NaN];
  for (let u = 0, d = t.length; u < d; ++u) {
    const f = t[u];
    c = Da(
      i,
      e,
      f,
      n,
      s,
      r,
      o,
      a,
      l,
      c,
      h
    ), e = f;
  }
  return c;
}
function Zf(i, e, t, n, s, r, o, a, l, c, h) {
  h = h || [NaN, NaN];
  for (let u = 0, d = t.length; u < d; ++u) {
    const f = t[u];
    c = Oa(
      i,
      e,
      f,
      n,
      s,
      r,
      o,
      a,
      l,
      c,
      h
    ), e = f[f.length - 1];
  }
  return c;
}
function pn(i, e, t, n, s) {
  s = s !== void 0 ? s : [];
  let r = 0;
  for (let o = e; o < t; o += n)
    s[r++] = i.slice(o, o + n);
  return s.length = r, s;
}
function gs(i, e, t, n, s) {
  s = s !== void 0 ? s : [];
  let r = 0;
  for (let o = 0, a = t.length; o < a; ++o) {
    const l = t[o];
    s[r++] = pn(
      i,
      e,
      l,
      n,
      s[r]
    ), e = l;
  }
  return s.length = r, s;
}
function ta(i, e, t, n, s) {
  s = s !== void 0 ? s : [];
  let r = 0;
  for (let o = 0, a = t.length; o < a; ++o) {
    const l = t[o];
    s[r++] = l.length === 1 && l[0] === e ? [] : gs(
      i,
      e,
      l,
      n,
      s[r]
    ), e = l[l.length - 1];
  }
  return s.length = r, s;
}
function zr(i, e, t, n, s, r, o) {
  const a = (t - e) / n;
  if (a < 3) {
    for (; e < t; e += n)
      r[o++] = i[e], r[o++] = i[e + 1];
    return o;
  }
  const l = new Array(a);
  l[0] = 1, l[a - 1] = 1;
  const c = [e, t - n];
  let h = 0;
  for (; c.length > 0; ) {
    const u = c.pop(), d = c.pop();
    let f = 0;
    const g = i[d], m = i[d + 1], _ = i[u], p = i[u + 1];
    for (let x = d + n; x < u; x += n) {
      const v = i[x], E = i[x + 1], y = xd(v, E, g, m, _, p);
      y > f && (h = x, f = y);
    }
    f > s && (l[(h - e) / n] = 1, d + n < h && c.push(d, h), h + n < u && c.push(h, u));
  }
  for (let u = 0; u < a; ++u)
    l[u] && (r[o++] = i[e + u * n], r[o++] = i[e + u * n + 1]);
  return o;
}
function Ih(i, e, t, n, s, r, o, a) {
  for (let l = 0, c = t.length; l < c; ++l) {
    const h = t[l];
    o = zr(
      i,
      e,
      h,
      n,
      s,
      r,
      o
    ), a.push(o), e = h;
  }
  return o;
}
function An(i, e) {
  return e * Math.round(i / e);
}
function Kf(i, e, t, n, s, r, o) {
  if (e == t)
    return o;
  let a = An(i[e], s), l = An(i[e + 1], s);
  e += n, r[o++] = a, r[o++] = l;
  let c, h;
  do
    if (c = An(i[e], s), h = An(i[e + 1], s), e += n, e == t)
      return r[o++] = c, r[o++] = h, o;
  while (c == a && h == l);
  for (; e < t; ) {
    const u = An(i[e], s), d = An(i[e + 1], s);
    if (e += n, u == c && d == h)
      continue;
    const f = c - a, g = h - l, m = u - a, _ = d - l;
    if (f * _ == g * m && (f < 0 && m < f || f == m || f > 0 && m > f) && (g < 0 && _ < g || g == _ || g > 0 && _ > g)) {
      c = u, h = d;
      continue;
    }
    r[o++] = c, r[o++] = h, a = c, l = h, c = u, h = d;
  }
  return r[o++] = c, r[o++] = h, o;
}
function Na(i, e, t, n, s, r, o, a) {
  for (let l = 0, c = t.length; l < c; ++l) {
    const h = t[l];
    o = Kf(
      i,
      e,
      h,
      n,
      s,
      r,
      o
    ), a.push(o), e = h;
  }
  return o;
}
function Hf(i, e, t, n, s, r, o, a) {
  for (let l = 0, c = t.length; l < c; ++l) {
    const h = t[l], u = [];
    o = Na(
      i,
      e,
      h,
      n,
      s,
      r,
      o,
      u
    ), a.push(u), e = h[h.length - 1];
  }
  return o;
}
class _s extends jn {
  /**
   * @param {Array<import("../coordinate.js").Coordinate>|Array<number>} coordinates Coordinates.
   *     For internal use, flat coordinates in combination with `layout` are also accepted.
   * @param {import("./Geometry.js").GeometryLayout} [layout] Layout.
   */
  constructor(e, t) {
    super(), this.maxDelta_ = -1, this.maxDeltaRevision_ = -1, t !== void 0 && !Array.isArray(e[0]) ? this.setFlatCoordinates(
      t,
      /** @type {Array<number>} */
      e
    ) : this.setCoordinates(
      /** @type {Array<import("../coordinate.js").Coordinate>} */
      e,
      t
    );
  }
  /**
   * Make a complete copy of the geometry.
   * @return {!LinearRing} Clone.
   * @api
   * @override
   */
  clone() {
    return new _s(this.flatCoordinates.slice(), this.layout);
  }
  /**
   * @param {number} x X.
   * @param {number} y Y.
   * @param {import("../coordinate.js").Coordinate} closestPoint Closest point.
   * @param {number} minSquaredDistance Minimum squared distance.
   * @return {number} Minimum squared distance.
   * @override
   */
  closestPointXY(e, t, n, s) {
    return s < Vn(this.getExtent(), e, t) ? s : (this.maxDeltaRevision_ != this.getRevision() && (this.maxDelta_ = Math.sqrt(
      La(
        this.flatCoordinates,
        0,
        this.flatCoordinates.length,
        this.stride,
        0
      )
    ), this.maxDeltaRevision_ = this.getRevision()), Da(
      this.flatCoordinates,
      0,
      this.flatCoordinates.length,
      this.stride,
      this.maxDelta_,
      !0,
      e,
      t,
      n,
      s
    ));
  }
  /**
   * Return the area of the linear ring on projected plane.
   * @return {number} Area (on projected plane).
   * @api
   */
  getArea() {
    return wh(
      this.flatCoordinates,
      0,
      this.flatCoordinates.length,
      this.stride
    );
  }
  /**
   * Return the coordinates of the linear ring.
   * @return {Array<import("../coordinate.js").Coordinate>} Coordinates.
   * @api
   * @override
   */
  getCoordinates() {
    return pn(
      this.flatCoordinates,
      0,
      this.flatCoordinates.length,
      this.stride
    );
  }
  /**
   * @param {number} squaredTolerance Squared tolerance.
   * @return {LinearRing} Simplified LinearRing.
   * @protected
   * @override
   */
  getSimplifiedGeometryInternal(e) {
    const t = [];
    return t.length = zr(
      this.flatCoordinates,
      0,
      this.flatCoordinates.length,
      this.stride,
      e,
      t,
      0
    ), new _s(t, "XY");
  }
  /**
   * Get the type of this geometry.
   * @return {import("./Geometry.js").Type} Geometry type.
   * @api
   * @override
   */
  getType() {
    return "LinearRing";
  }
  /**
   * Test if the geometry and the passed extent intersect.
   * @param {import("../extent.js").Extent} extent Extent.
   * @return {boolean} `true` if the geometry and the extent intersect.
   * @api
   * @override
   */
  intersectsExtent(e) {
    return !1;
  }
  /**
   * Set the coordinates of the linear ring.
   * @param {!Array<import("../coordinate.js").Coordinate>} coordinates Coordinates.
   * @param {import("./Geometry.js").GeometryLayout} [layout] Layout.
   * @api
   * @override
   */
  setCoordinates(e, t) {
    this.setLayout(t, e, 1), this.flatCoordinates || (this.flatCoordinates = []), this.flatCoordinates.length = Ur(
      this.flatCoordinates,
      0,
      e,
      this.stride
    ), this.changed();
  }
}
function pr(i, e, t, n, s, r, o) {
  let a, l;
  const c = (t - e) / n;
  if (c === 1)
    a = e;
  else if (c === 2)
    a = e, l = s;
  else if (c !== 0) {
    let h = i[e], u = i[e + 1], d = 0;
    const f = [0];
    for (let _ = e + n; _ < t; _ += n) {
      const p = i[_], x = i[_ + 1];
      d += Math.sqrt((p - h) * (p - h) + (x - u) * (x - u)), f.push(d), h = p, u = x;
    }
    const g = s * d, m = If(f, g);
    m < 0 ? (l = (g - f[-m - 2]) / (f[-m - 1] - f[-m - 2]), a = e + (-m - 2) * n) : a = e + m * n;
  }
  o = o > 1 ? o : 2, r = r || new Array(o);
  for (let h = 0; h < o; ++h)
    r[h] = a === void 0 ? NaN : l === void 0 ? i[a + h] : at(i[a + h], i[a + n + h], l);
  return r;
}
function na(i, e, t, n, s, r) {
  if (t == e)
    return null;
  let o;
  if (s < i[e + n - 1])
    return r ? (o = i.slice(e, e + n), o[n - 1] = s, o) : null;
  if (i[t - 1] < s)
    return r ? (o = i.slice(t - n, t), o[n - 1] = s, o) : null;
  if (s == i[e + n - 1])
    return i.slice(e, e + n);
  let a = e / n, l = t / n;
  for (; a < l; ) {
    const d = a + l >> 1;
    s < i[(d + 1) * n - 1] ? l = d : a = d + 1;
  }
  const c = i[a * n - 1];
  if (s == c)
    return i.slice((a - 1) * n, (a - 1) * n + n);
  const h = i[(a + 1) * n - 1], u = (s - c) / (h - c);
  o = [];
  for (let d = 0; d < n - 1; ++d)
    o.push(
      at(
        i[(a - 1) * n + d],
        i[a * n + d],
        u
      )
    );
  return o.push(s), o;
}
function qf(i, e, t, n, s, r, o) {
  if (o)
    return na(
      i,
      e,
      t[t.length - 1],
      n,
      s,
      r
    );
  let a;
  if (s < i[n - 1])
    return r ? (a = i.slice(0, n), a[n - 1] = s, a) : null;
  if (i[i.length - 1] < s)
    return r ? (a = i.slice(i.length - n), a[n - 1] = s, a) : null;
  for (let l = 0, c = t.length; l < c; ++l) {
    const h = t[l];
    if (e != h) {
      if (s < i[e + n - 1])
        return null;
      if (s <= i[h - 1])
        return na(
          i,
          e,
          h,
          n,
          s,
          !1
        );
      e = h;
    }
  }
  return null;
}
function Jf(i, e, t, n, s) {
  return !ch(
    s,
    /**
     * @param {import("../../coordinate.js").Coordinate} coordinate Coordinate.
     * @return {boolean} Contains (x, y).
     */
    function(o) {
      return !Ln(
        i,
        e,
        t,
        n,
        o[0],
        o[1]
      );
    }
  );
}
function Ln(i, e, t, n, s, r) {
  let o = 0, a = i[t - n], l = i[t - n + 1];
  for (; e < t; e += n) {
    const c = i[e], h = i[e + 1];
    l <= r ? h > r && (c - a) * (r - l) - (s - a) * (h - l) > 0 && o++ : h <= r && (c - a) * (r - l) - (s - a) * (h - l) < 0 && o--, a = c, l = h;
  }
  return o !== 0;
}
function ka(i, e, t, n, s, r) {
  if (t.length === 0 || !Ln(i, e, t[0], n, s, r))
    return !1;
  for (let o = 1, a = t.length; o < a; ++o)
    if (Ln(i, t[o - 1], t[o], n, s, r))
      return !1;
  return !0;
}
function Qf(i, e, t, n, s, r) {
  if (t.length === 0)
    return !1;
  for (let o = 0, a = t.length; o < a; ++o) {
    const l = t[o];
    if (ka(i, e, l, n, s, r))
      return !0;
    e = l[l.length - 1];
  }
  return !1;
}
function Ah(i, e, t, n, s) {
  let r;
  for (e += n; e < t; e += n)
    if (r = s(
      i.slice(e - n, e),
      i.slice(e, e + n)
    ), r)
      return r;
  return !1;
}
function $r(i, e, t, n, s, r) {
  return r = r ?? lh(ut(), i, e, t, n), Ke(s, r) ? r[0] >= s[0] && r[2] <= s[2] || r[1] >= s[1] && r[3] <= s[3] ? !0 : Ah(
    i,
    e,
    t,
    n,
    /**
     * @param {import("../../coordinate.js").Coordinate} point1 Start point.
     * @param {import("../../coordinate.js").Coordinate} point2 End point.
     * @return {boolean} `true` if the segment and the extent intersect,
     *     `false` otherwise.
     */
    function(o, a) {
      return yd(s, o, a);
    }
  ) : !1;
}
function eg(i, e, t, n, s) {
  for (let r = 0, o = t.length; r < o; ++r) {
    if ($r(i, e, t[r], n, s))
      return !0;
    e = t[r];
  }
  return !1;
}
function Fh(i, e, t, n, s) {
  return !!($r(i, e, t, n, s) || Ln(
    i,
    e,
    t,
    n,
    s[0],
    s[1]
  ) || Ln(
    i,
    e,
    t,
    n,
    s[0],
    s[3]
  ) || Ln(
    i,
    e,
    t,
    n,
    s[2],
    s[1]
  ) || Ln(
    i,
    e,
    t,
    n,
    s[2],
    s[3]
  ));
}
function bh(i, e, t, n, s) {
  if (!Fh(i, e, t[0], n, s))
    return !1;
  if (t.length === 1)
    return !0;
  for (let r = 1, o = t.length; r < o; ++r)
    if (Jf(
      i,
      t[r - 1],
      t[r],
      n,
      s
    ) && !$r(
      i,
      t[r - 1],
      t[r],
      n,
      s
    ))
      return !1;
  return !0;
}
function tg(i, e, t, n, s) {
  for (let r = 0, o = t.length; r < o; ++r) {
    const a = t[r];
    if (bh(i, e, a, n, s))
      return !0;
    e = a[a.length - 1];
  }
  return !1;
}
function Ga(i, e, t, n) {
  let s = i[e], r = i[e + 1], o = 0;
  for (let a = e + n; a < t; a += n) {
    const l = i[a], c = i[a + 1];
    o += Math.sqrt((l - s) * (l - s) + (c - r) * (c - r)), s = l, r = c;
  }
  return o;
}
class Ve extends jn {
  /**
   * @param {Array<import("../coordinate.js").Coordinate>|Array<number>} coordinates Coordinates.
   *     For internal use, flat coordinates in combination with `layout` are also accepted.
   * @param {import("./Geometry.js").GeometryLayout} [layout] Layout.
   */
  constructor(e, t) {
    super(), this.flatMidpoint_ = null, this.flatMidpointRevision_ = -1, this.maxDelta_ = -1, this.maxDeltaRevision_ = -1, t !== void 0 && !Array.isArray(e[0]) ? this.setFlatCoordinates(
      t,
      /** @type {Array<number>} */
      e
    ) : this.setCoordinates(
      /** @type {Array<import("../coordinate.js").Coordinate>} */
      e,
      t
    );
  }
  /**
   * Append the passed coordinate to the coordinates of the linestring.
   * @param {import("../coordinate.js").Coordinate} coordinate Coordinate.
   * @api
   */
  appendCoordinate(e) {
    Bt(this.flatCoordinates, e), this.changed();
  }
  /**
   * Make a complete copy of the geometry.
   * @return {!LineString} Clone.
   * @api
   * @override
   */
  clone() {
    const e = new Ve(
      this.flatCoordinates.slice(),
      this.layout
    );
    return e.applyProperties(this), e;
  }
  /**
   * @param {number} x X.
   * @param {number} y Y.
   * @param {import("../coordinate.js").Coordinate} closestPoint Closest point.
   * @param {number} minSquaredDistance Minimum squared distance.
   * @return {number} Minimum squared distance.
   * @override
   */
  closestPointXY(e, t, n, s) {
    return s < Vn(this.getExtent(), e, t) ? s : (this.maxDeltaRevision_ != this.getRevision() && (this.maxDelta_ = Math.sqrt(
      La(
        this.flatCoordinates,
        0,
        this.flatCoordinates.length,
        this.stride,
        0
      )
    ), this.maxDeltaRevision_ = this.getRevision()), Da(
      this.flatCoordinates,
      0,
      this.flatCoordinates.length,
      this.stride,
      this.maxDelta_,
      !1,
      e,
      t,
      n,
      s
    ));
  }
  /**
   * Iterate over each segment, calling the provided callback.
   * If the callback returns a truthy value the function returns that
   * value immediately. Otherwise the function returns `false`.
   *
   * @param {function(this: S, import("../coordinate.js").Coordinate, import("../coordinate.js").Coordinate): T} callback Function
   *     called for each segment. The function will receive two arguments, the start and end coordinates of the segment.
   * @return {T|boolean} Value.
   * @template T,S
   * @api
   */
  forEachSegment(e) {
    return Ah(
      this.flatCoordinates,
      0,
      this.flatCoordinates.length,
      this.stride,
      e
    );
  }
  /**
   * Returns the coordinate at `m` using linear interpolation, or `null` if no
   * such coordinate exists.
   *
   * `extrapolate` controls extrapolation beyond the range of Ms in the
   * MultiLineString. If `extrapolate` is `true` then Ms less than the first
   * M will return the first coordinate and Ms greater than the last M will
   * return the last coordinate.
   *
   * @param {number} m M.
   * @param {boolean} [extrapolate] Extrapolate. Default is `false`.
   * @return {import("../coordinate.js").Coordinate|null} Coordinate.
   * @api
   */
  getCoordinateAtM(e, t) {
    return this.layout != "XYM" && this.layout != "XYZM" ? null : (t = t !== void 0 ? t : !1, na(
      this.flatCoordinates,
      0,
      this.flatCoordinates.length,
      this.stride,
      e,
      t
    ));
  }
  /**
   * Return the coordinates of the linestring.
   * @return {Array<import("../coordinate.js").Coordinate>} Coordinates.
   * @api
   * @override
   */
  getCoordinates() {
    return pn(
      this.flatCoordinates,
      0,
      this.flatCoordinates.length,
      this.stride
    );
  }
  /**
   * Return the coordinate at the provided fraction along the linestring.
   * The `fraction` is a number between 0 and 1, where 0 is the start of the
   * linestring and 1 is the end.
   * @param {number} fraction Fraction.
   * @param {import("../coordinate.js").Coordinate} [dest] Optional coordinate whose values will
   *     be modified. If not provided, a new coordinate will be returned.
   * @return {import("../coordinate.js").Coordinate} Coordinate of the interpolated point.
   * @api
   */
  getCoordinateAt(e, t) {
    return pr(
      this.flatCoordinates,
      0,
      this.flatCoordinates.length,
      this.stride,
      e,
      t,
      this.stride
    );
  }
  /**
   * Return the length of the linestring on projected plane.
   * @return {number} Length (on projected plane).
   * @api
   */
  getLength() {
    return Ga(
      this.flatCoordinates,
      0,
      this.flatCoordinates.length,
      this.stride
    );
  }
  /**
   * @return {Array<number>} Flat midpoint.
   */
  getFlatMidpoint() {
    return this.flatMidpointRevision_ != this.getRevision() && (this.flatMidpoint_ = this.getCoordinateAt(
      0.5,
      this.flatMidpoint_ ?? void 0
    ), this.flatMidpointRevision_ = this.getRevision()), /** @type {Array<number>} */
    this.flatMidpoint_;
  }
  /**
   * @param {number} squaredTolerance Squared tolerance.
   * @return {LineString} Simplified LineString.
   * @protected
   * @override
   */
  getSimplifiedGeometryInternal(e) {
    const t = [];
    return t.length = zr(
      this.flatCoordinates,
      0,
      this.flatCoordinates.length,
      this.stride,
      e,
      t,
      0
    ), new Ve(t, "XY");
  }
  /**
   * Get the type of this geometry.
   * @return {import("./Geometry.js").Type} Geometry type.
   * @api
   * @override
   */
  getType() {
    return "LineString";
  }
  /**
   * Test if the geometry and the passed extent intersect.
   * @param {import("../extent.js").Extent} extent Extent.
   * @return {boolean} `true` if the geometry and the extent intersect.
   * @api
   * @override
   */
  intersectsExtent(e) {
    return $r(
      this.flatCoordinates,
      0,
      this.flatCoordinates.length,
      this.stride,
      e,
      this.getExtent()
    );
  }
  /**
   * Set the coordinates of the linestring.
   * @param {!Array<import("../coordinate.js").Coordinate>} coordinates Coordinates.
   * @param {import("./Geometry.js").GeometryLayout} [layout] Layout.
   * @api
   * @override
   */
  setCoordinates(e, t) {
    this.setLayout(t, e, 1), this.flatCoordinates || (this.flatCoordinates = []), this.flatCoordinates.length = Ur(
      this.flatCoordinates,
      0,
      e,
      this.stride
    ), this.changed();
  }
}
class ms extends jn {
  /**
   * @param {Array<Array<import("../coordinate.js").Coordinate>|LineString>|Array<number>} coordinates
   *     Coordinates or LineString geometries. (For internal use, flat coordinates in
   *     combination with `layout` and `ends` are also accepted.)
   * @param {import("./Geometry.js").GeometryLayout} [layout] Layout.
   * @param {Array<number>} [ends] Flat coordinate ends for internal use.
   */
  constructor(e, t, n) {
    if (super(), this.ends_ = [], this.maxDelta_ = -1, this.maxDeltaRevision_ = -1, Array.isArray(e[0]))
      this.setCoordinates(
        /** @type {Array<Array<import("../coordinate.js").Coordinate>>} */
        e,
        t
      );
    else if (t !== void 0 && n)
      this.setFlatCoordinates(
        t,
        /** @type {Array<number>} */
        e
      ), this.ends_ = n;
    else {
      const s = (
        /** @type {Array<LineString>} */
        e
      ), r = [], o = [];
      for (let l = 0, c = s.length; l < c; ++l) {
        const h = s[l];
        Bt(r, h.getFlatCoordinates()), o.push(r.length);
      }
      const a = s.length === 0 ? this.getLayout() : s[0].getLayout();
      this.setFlatCoordinates(a, r), this.ends_ = o;
    }
  }
  /**
   * Append the passed linestring to the multilinestring.
   * @param {LineString} lineString LineString.
   * @api
   */
  appendLineString(e) {
    Bt(this.flatCoordinates, e.getFlatCoordinates().slice()), this.ends_.push(this.flatCoordinates.length), this.changed();
  }
  /**
   * Make a complete copy of the geometry.
   * @return {!MultiLineString} Clone.
   * @api
   * @override
   */
  clone() {
    const e = new ms(
      this.flatCoordinates.slice(),
      this.layout,
      this.ends_.slice()
    );
    return e.applyProperties(this), e;
  }
  /**
   * @param {number} x X.
   * @param {number} y Y.
   * @param {import("../coordinate.js").Coordinate} closestPoint Closest point.
   * @param {number} minSquaredDistance Minimum squared distance.
   * @return {number} Minimum squared distance.
   * @override
   */
  closestPointXY(e, t, n, s) {
    return s < Vn(this.getExtent(), e, t) ? s : (this.maxDeltaRevision_ != this.getRevision() && (this.maxDelta_ = Math.sqrt(
      Ma(
        this.flatCoordinates,
        0,
        this.ends_,
        this.stride,
        0
      )
    ), this.maxDeltaRevision_ = this.getRevision()), Oa(
      this.flatCoordinates,
      0,
      this.ends_,
      this.stride,
      this.maxDelta_,
      !1,
      e,
      t,
      n,
      s
    ));
  }
  /**
   * Returns the coordinate at `m` using linear interpolation, or `null` if no
   * such coordinate exists.
   *
   * `extrapolate` controls extrapolation beyond the range of Ms in the
   * MultiLineString. If `extrapolate` is `true` then Ms less than the first
   * M will return the first coordinate and Ms greater than the last M will
   * return the last coordinate.
   *
   * `interpolate` controls interpolation between consecutive LineStrings
   * within the MultiLineString. If `interpolate` is `true` the coordinates
   * will be linearly interpolated between the last coordinate of one LineString
   * and the first coordinate of the next LineString.  If `interpolate` is
   * `false` then the function will return `null` for Ms falling between
   * LineStrings.
   *
   * @param {number} m M.
   * @param {boolean} [extrapolate] Extrapolate. Default is `false`.
   * @param {boolean} [interpolate] Interpolate. Default is `false`.
   * @return {import("../coordinate.js").Coordinate|null} Coordinate.
   * @api
   */
  getCoordinateAtM(e, t, n) {
    return this.layout != "XYM" && this.layout != "XYZM" || this.flatCoordinates.length === 0 ? null : (t = t !== void 0 ? t : !1, n = n !== void 0 ? n : !1, qf(
      this.flatCoordinates,
      0,
      this.ends_,
      this.stride,
      e,
      t,
      n
    ));
  }
  /**
   * Return the coordinates of the multilinestring.
   * @return {Array<Array<import("../coordinate.js").Coordinate>>} Coordinates.
   * @api
   * @override
   */
  getCoordinates() {
    return gs(
      this.flatCoordinates,
      0,
      this.ends_,
      this.stride
    );
  }
  /**
   * @return {Array<number>} Ends.
   */
  getEnds() {
    return this.ends_;
  }
  /**
   * Return the linestring at the specified index.
   * @param {number} index Index.
   * @return {LineString} LineString.
   * @api
   */
  getLineString(e) {
    return e < 0 || this.ends_.length <= e ? null : new Ve(
      this.flatCoordinates.slice(
        e === 0 ? 0 : this.ends_[e - 1],
        this.ends_[e]
      ),
      this.layout
    );
  }
  /**
   * Return the linestrings of this multilinestring.
   * @return {Array<LineString>} LineStrings.
   * @api
   */
  getLineStrings() {
    const e = this.flatCoordinates, t = this.ends_, n = this.layout, s = [];
    let r = 0;
    for (let o = 0, a = t.length; o < a; ++o) {
      const l = t[o], c = new Ve(
        e.slice(r, l),
        n
      );
      s.push(c), r = l;
    }
    return s;
  }
  /**
   * Return the sum of all line string lengths
   * @return {number} Length (on projected plane).
   * @api
   */
  getLength() {
    const e = this.ends_;
    let t = 0, n = 0;
    for (let s = 0, r = e.length; s < r; ++s)
      n += Ga(
        this.flatCoordinates,
        t,
        e[s],
        this.stride
      ), t = e[s];
    return n;
  }
  /**
   * @return {Array<number>} Flat midpoints.
   */
  getFlatMidpoints() {
    const e = [], t = this.flatCoordinates;
    let n = 0;
    const s = this.ends_, r = this.stride;
    for (let o = 0, a = s.length; o < a; ++o) {
      const l = s[o], c = pr(
        t,
        n,
        l,
        r,
        0.5
      );
      Bt(e, c), n = l;
    }
    return e;
  }
  /**
   * @param {number} squaredTolerance Squared tolerance.
   * @return {MultiLineString} Simplified MultiLineString.
   * @protected
   * @override
   */
  getSimplifiedGeometryInternal(e) {
    const t = [], n = [];
    return t.length = Ih(
      this.flatCoordinates,
      0,
      this.ends_,
      this.stride,
      e,
      t,
      0,
      n
    ), new ms(t, "XY", n);
  }
  /**
   * Get the type of this geometry.
   * @return {import("./Geometry.js").Type} Geometry type.
   * @api
   * @override
   */
  getType() {
    return "MultiLineString";
  }
  /**
   * Test if the geometry and the passed extent intersect.
   * @param {import("../extent.js").Extent} extent Extent.
   * @return {boolean} `true` if the geometry and the extent intersect.
   * @api
   * @override
   */
  intersectsExtent(e) {
    return eg(
      this.flatCoordinates,
      0,
      this.ends_,
      this.stride,
      e
    );
  }
  /**
   * Set the coordinates of the multilinestring.
   * @param {!Array<Array<import("../coordinate.js").Coordinate>>} coordinates Coordinates.
   * @param {import("./Geometry.js").GeometryLayout} [layout] Layout.
   * @api
   * @override
   */
  setCoordinates(e, t) {
    this.setLayout(t, e, 2), this.flatCoordinates || (this.flatCoordinates = []);
    const n = Ds(
      this.flatCoordinates,
      0,
      e,
      this.stride,
      this.ends_
    );
    this.flatCoordinates.length = n.length === 0 ? 0 : n[n.length - 1], this.changed();
  }
}
class Je extends jn {
  /**
   * @param {import("../coordinate.js").Coordinate} coordinates Coordinates.
   * @param {import("./Geometry.js").GeometryLayout} [layout] Layout.
   */
  constructor(e, t) {
    super(), this.setCoordinates(e, t);
  }
  /**
   * Make a complete copy of the geometry.
   * @return {!Point} Clone.
   * @api
   * @override
   */
  clone() {
    const e = new Je(this.flatCoordinates.slice(), this.layout);
    return e.applyProperties(this), e;
  }
  /**
   * @param {number} x X.
   * @param {number} y Y.
   * @param {import("../coordinate.js").Coordinate} closestPoint Closest point.
   * @param {number} minSquaredDistance Minimum squared distance.
   * @return {number} Minimum squared distance.
   * @override
   */
  closestPointXY(e, t, n, s) {
    const r = this.flatCoordinates, o = tn(
      e,
      t,
      r[0],
      r[1]
    );
    if (o < s) {
      const a = this.stride;
      for (let l = 0; l < a; ++l)
        n[l] = r[l];
      return n.length = a, o;
    }
    return s;
  }
  /**
   * Return the coordinate of the point.
   * @return {import("../coordinate.js").Coordinate} Coordinates.
   * @api
   * @override
   */
  getCoordinates() {
    return this.flatCoordinates.slice();
  }
  /**
   * @param {import("../extent.js").Extent} extent Extent.
   * @protected
   * @return {import("../extent.js").Extent} extent Extent.
   * @override
   */
  computeExtent(e) {
    return Qi(this.flatCoordinates, e);
  }
  /**
   * Get the type of this geometry.
   * @return {import("./Geometry.js").Type} Geometry type.
   * @api
   * @override
   */
  getType() {
    return "Point";
  }
  /**
   * Test if the geometry and the passed extent intersect.
   * @param {import("../extent.js").Extent} extent Extent.
   * @return {boolean} `true` if the geometry and the extent intersect.
   * @api
   * @override
   */
  intersectsExtent(e) {
    return Ea(e, this.flatCoordinates[0], this.flatCoordinates[1]);
  }
  /**
   * @param {!Array<*>} coordinates Coordinates.
   * @param {import("./Geometry.js").GeometryLayout} [layout] Layout.
   * @api
   * @override
   */
  setCoordinates(e, t) {
    this.setLayout(t, e, 0), this.flatCoordinates || (this.flatCoordinates = []), this.flatCoordinates.length = Xf(
      this.flatCoordinates,
      0,
      e,
      this.stride
    ), this.changed();
  }
}
class Os extends jn {
  /**
   * @param {Array<import("../coordinate.js").Coordinate>|Array<number>} coordinates Coordinates.
   *     For internal use, flat coordinates in combination with `layout` are also accepted.
   * @param {import("./Geometry.js").GeometryLayout} [layout] Layout.
   */
  constructor(e, t) {
    super(), t && !Array.isArray(e[0]) ? this.setFlatCoordinates(
      t,
      /** @type {Array<number>} */
      e
    ) : this.setCoordinates(
      /** @type {Array<import("../coordinate.js").Coordinate>} */
      e,
      t
    );
  }
  /**
   * Append the passed point to this multipoint.
   * @param {Point} point Point.
   * @api
   */
  appendPoint(e) {
    Bt(this.flatCoordinates, e.getFlatCoordinates()), this.changed();
  }
  /**
   * Make a complete copy of the geometry.
   * @return {!MultiPoint} Clone.
   * @api
   * @override
   */
  clone() {
    const e = new Os(
      this.flatCoordinates.slice(),
      this.layout
    );
    return e.applyProperties(this), e;
  }
  /**
   * @param {number} x X.
   * @param {number} y Y.
   * @param {import("../coordinate.js").Coordinate} closestPoint Closest point.
   * @param {number} minSquaredDistance Minimum squared distance.
   * @return {number} Minimum squared distance.
   * @override
   */
  closestPointXY(e, t, n, s) {
    if (s < Vn(this.getExtent(), e, t))
      return s;
    const r = this.flatCoordinates, o = this.stride;
    for (let a = 0, l = r.length; a < l; a += o) {
      const c = tn(
        e,
        t,
        r[a],
        r[a + 1]
      );
      if (c < s) {
        s = c;
        for (let h = 0; h < o; ++h)
          n[h] = r[a + h];
        n.length = o;
      }
    }
    return s;
  }
  /**
   * Return the coordinates of the multipoint.
   * @return {Array<import("../coordinate.js").Coordinate>} Coordinates.
   * @api
   * @override
   */
  getCoordinates() {
    return pn(
      this.flatCoordinates,
      0,
      this.flatCoordinates.length,
      this.stride
    );
  }
  /**
   * Return the point at the specified index.
   * @param {number} index Index.
   * @return {Point} Point.
   * @api
   */
  getPoint(e) {
    const t = this.flatCoordinates.length / this.stride;
    return e < 0 || t <= e ? null : new Je(
      this.flatCoordinates.slice(
        e * this.stride,
        (e + 1) * this.stride
      ),
      this.layout
    );
  }
  /**
   * Return the points of this multipoint.
   * @return {Array<Point>} Points.
   * @api
   */
  getPoints() {
    const e = this.flatCoordinates, t = this.layout, n = this.stride, s = [];
    for (let r = 0, o = e.length; r < o; r += n) {
      const a = new Je(e.slice(r, r + n), t);
      s.push(a);
    }
    return s;
  }
  /**
   * Get the type of this geometry.
   * @return {import("./Geometry.js").Type} Geometry type.
   * @api
   * @override
   */
  getType() {
    return "MultiPoint";
  }
  /**
   * Test if the geometry and the passed extent intersect.
   * @param {import("../extent.js").Extent} extent Extent.
   * @return {boolean} `true` if the geometry and the extent intersect.
   * @api
   * @override
   */
  intersectsExtent(e) {
    const t = this.flatCoordinates, n = this.stride;
    for (let s = 0, r = t.length; s < r; s += n) {
      const o = t[s], a = t[s + 1];
      if (Ea(e, o, a))
        return !0;
    }
    return !1;
  }
  /**
   * Set the coordinates of the multipoint.
   * @param {!Array<import("../coordinate.js").Coordinate>} coordinates Coordinates.
   * @param {import("./Geometry.js").GeometryLayout} [layout] Layout.
   * @api
   * @override
   */
  setCoordinates(e, t) {
    this.setLayout(t, e, 1), this.flatCoordinates || (this.flatCoordinates = []), this.flatCoordinates.length = Ur(
      this.flatCoordinates,
      0,
      e,
      this.stride
    ), this.changed();
  }
}
function Ba(i, e, t, n, s, r, o) {
  let a, l, c, h, u, d, f;
  const g = s[r + 1], m = [];
  for (let x = 0, v = t.length; x < v; ++x) {
    const E = t[x];
    for (h = i[E - n], d = i[E - n + 1], a = e; a < E; a += n)
      u = i[a], f = i[a + 1], (g <= d && f <= g || d <= g && g <= f) && (c = (g - d) / (f - d) * (u - h) + h, m.push(c)), h = u, d = f;
  }
  let _ = NaN, p = -1 / 0;
  for (m.sort(nn), h = m[0], a = 1, l = m.length; a < l; ++a) {
    u = m[a];
    const x = Math.abs(u - h);
    x > p && (c = (h + u) / 2, ka(i, e, t, n, c, g) && (_ = c, p = x)), h = u;
  }
  return isNaN(_) && (_ = s[r]), o ? (o.push(_, g, p), o) : [_, g, p];
}
function Lh(i, e, t, n, s) {
  let r = [];
  for (let o = 0, a = t.length; o < a; ++o) {
    const l = t[o];
    r = Ba(
      i,
      e,
      l,
      n,
      s,
      2 * o,
      r
    ), e = l[l.length - 1];
  }
  return r;
}
function ng(i, e, t, n) {
  for (; e < t - n; ) {
    for (let s = 0; s < n; ++s) {
      const r = i[e + s];
      i[e + s] = i[t - n + s], i[t - n + s] = r;
    }
    e += n, t -= n;
  }
}
function Ua(i, e, t, n) {
  let s = 0, r = i[t - n], o = i[t - n + 1];
  for (; e < t; e += n) {
    const a = i[e], l = i[e + 1];
    s += (a - r) * (l + o), r = a, o = l;
  }
  return s === 0 ? void 0 : s > 0;
}
function za(i, e, t, n, s) {
  s = s !== void 0 ? s : !1;
  for (let r = 0, o = t.length; r < o; ++r) {
    const a = t[r], l = Ua(
      i,
      e,
      a,
      n
    );
    if (r === 0) {
      if (s && l || !s && !l)
        return !1;
    } else if (s && !l || !s && l)
      return !1;
    e = a;
  }
  return !0;
}
function Mh(i, e, t, n, s) {
  for (let r = 0, o = t.length; r < o; ++r) {
    const a = t[r];
    if (!za(i, e, a, n, s))
      return !1;
    a.length && (e = a[a.length - 1]);
  }
  return !0;
}
function yr(i, e, t, n, s) {
  s = s !== void 0 ? s : !1;
  for (let r = 0, o = t.length; r < o; ++r) {
    const a = t[r], l = Ua(
      i,
      e,
      a,
      n
    );
    (r === 0 ? s && l || !s && !l : s && !l || !s && l) && ng(i, e, a, n), e = a;
  }
  return e;
}
function ia(i, e, t, n, s) {
  for (let r = 0, o = t.length; r < o; ++r)
    e = yr(
      i,
      e,
      t[r],
      n,
      s
    );
  return e;
}
function Dh(i, e) {
  const t = [];
  let n = 0, s = 0, r;
  for (let o = 0, a = e.length; o < a; ++o) {
    const l = e[o], c = Ua(i, n, l, 2);
    if (r === void 0 && (r = c), c === r)
      t.push(e.slice(s, o + 1));
    else {
      if (t.length === 0)
        continue;
      t[t.length - 1].push(e[s]);
    }
    s = o + 1, n = l;
  }
  return t;
}
class rt extends jn {
  /**
   * @param {!Array<Array<import("../coordinate.js").Coordinate>>|!Array<number>} coordinates
   *     Array of linear rings that define the polygon. The first linear ring of the
   *     array defines the outer-boundary or surface of the polygon. Each subsequent
   *     linear ring defines a hole in the surface of the polygon. A linear ring is
   *     an array of vertices' coordinates where the first coordinate and the last are
   *     equivalent. (For internal use, flat coordinates in combination with
   *     `layout` and `ends` are also accepted.)
   * @param {import("./Geometry.js").GeometryLayout} [layout] Layout.
   * @param {Array<number>} [ends] Ends (for internal use with flat coordinates).
   */
  constructor(e, t, n) {
    super(), this.ends_ = [], this.flatInteriorPointRevision_ = -1, this.flatInteriorPoint_ = null, this.maxDelta_ = -1, this.maxDeltaRevision_ = -1, this.orientedRevision_ = -1, this.orientedFlatCoordinates_ = null, t !== void 0 && n ? (this.setFlatCoordinates(
      t,
      /** @type {Array<number>} */
      e
    ), this.ends_ = n) : this.setCoordinates(
      /** @type {Array<Array<import("../coordinate.js").Coordinate>>} */
      e,
      t
    );
  }
  /**
   * Append the passed linear ring to this polygon.
   * @param {LinearRing} linearRing Linear ring.
   * @api
   */
  appendLinearRing(e) {
    this.flatCoordinates ? Bt(this.flatCoordinates, e.getFlatCoordinates()) : this.flatCoordinates = e.getFlatCoordinates().slice(), this.ends_.push(this.flatCoordinates.length), this.changed();
  }
  /**
   * Make a complete copy of the geometry.
   * @return {!Polygon} Clone.
   * @api
   * @override
   */
  clone() {
    const e = new rt(
      this.flatCoordinates.slice(),
      this.layout,
      this.ends_.slice()
    );
    return e.applyProperties(this), e;
  }
  /**
   * @param {number} x X.
   * @param {number} y Y.
   * @param {import("../coordinate.js").Coordinate} closestPoint Closest point.
   * @param {number} minSquaredDistance Minimum squared distance.
   * @return {number} Minimum squared distance.
   * @override
   */
  closestPointXY(e, t, n, s) {
    return s < Vn(this.getExtent(), e, t) ? s : (this.maxDeltaRevision_ != this.getRevision() && (this.maxDelta_ = Math.sqrt(
      Ma(
        this.flatCoordinates,
        0,
        this.ends_,
        this.stride,
        0
      )
    ), this.maxDeltaRevision_ = this.getRevision()), Oa(
      this.flatCoordinates,
      0,
      this.ends_,
      this.stride,
      this.maxDelta_,
      !0,
      e,
      t,
      n,
      s
    ));
  }
  /**
   * @param {number} x X.
   * @param {number} y Y.
   * @return {boolean} Contains (x, y).
   * @override
   */
  containsXY(e, t) {
    return ka(
      this.getOrientedFlatCoordinates(),
      0,
      this.ends_,
      this.stride,
      e,
      t
    );
  }
  /**
   * Return the area of the polygon on projected plane.
   * @return {number} Area (on projected plane).
   * @api
   */
  getArea() {
    return Ph(
      this.getOrientedFlatCoordinates(),
      0,
      this.ends_,
      this.stride
    );
  }
  /**
   * Get the coordinate array for this geometry.  This array has the structure
   * of a GeoJSON coordinate array for polygons.
   *
   * @param {boolean} [right] Orient coordinates according to the right-hand
   *     rule (counter-clockwise for exterior and clockwise for interior rings).
   *     If `false`, coordinates will be oriented according to the left-hand rule
   *     (clockwise for exterior and counter-clockwise for interior rings).
   *     By default, coordinate orientation will depend on how the geometry was
   *     constructed.
   * @return {Array<Array<import("../coordinate.js").Coordinate>>} Coordinates.
   * @api
   * @override
   */
  getCoordinates(e) {
    let t;
    return e !== void 0 ? (t = this.getOrientedFlatCoordinates().slice(), yr(t, 0, this.ends_, this.stride, e)) : t = this.flatCoordinates, gs(t, 0, this.ends_, this.stride);
  }
  /**
   * @return {Array<number>} Ends.
   */
  getEnds() {
    return this.ends_;
  }
  /**
   * @return {Array<number>} Interior point.
   */
  getFlatInteriorPoint() {
    if (this.flatInteriorPointRevision_ != this.getRevision()) {
      const e = zt(this.getExtent());
      this.flatInteriorPoint_ = Ba(
        this.getOrientedFlatCoordinates(),
        0,
        this.ends_,
        this.stride,
        e,
        0
      ), this.flatInteriorPointRevision_ = this.getRevision();
    }
    return (
      /** @type {import("../coordinate.js").Coordinate} */
      this.flatInteriorPoint_
    );
  }
  /**
   * Return an interior point of the polygon.
   * @return {Point} Interior point as XYM coordinate, where M is the
   * length of the horizontal intersection that the point belongs to.
   * @api
   */
  getInteriorPoint() {
    return new Je(this.getFlatInteriorPoint(), "XYM");
  }
  /**
   * Return the number of rings of the polygon,  this includes the exterior
   * ring and any interior rings.
   *
   * @return {number} Number of rings.
   * @api
   */
  getLinearRingCount() {
    return this.ends_.length;
  }
  /**
   * Return the Nth linear ring of the polygon geometry. Return `null` if the
   * given index is out of range.
   * The exterior linear ring is available at index `0` and the interior rings
   * at index `1` and beyond.
   *
   * @param {number} index Index.
   * @return {LinearRing|null} Linear ring.
   * @api
   */
  getLinearRing(e) {
    return e < 0 || this.ends_.length <= e ? null : new _s(
      this.flatCoordinates.slice(
        e === 0 ? 0 : this.ends_[e - 1],
        this.ends_[e]
      ),
      this.layout
    );
  }
  /**
   * Return the linear rings of the polygon.
   * @return {Array<LinearRing>} Linear rings.
   * @api
   */
  getLinearRings() {
    const e = this.layout, t = this.flatCoordinates, n = this.ends_, s = [];
    let r = 0;
    for (let o = 0, a = n.length; o < a; ++o) {
      const l = n[o], c = new _s(
        t.slice(r, l),
        e
      );
      s.push(c), r = l;
    }
    return s;
  }
  /**
   * @return {Array<number>} Oriented flat coordinates.
   */
  getOrientedFlatCoordinates() {
    if (this.orientedRevision_ != this.getRevision()) {
      const e = this.flatCoordinates;
      za(e, 0, this.ends_, this.stride) ? this.orientedFlatCoordinates_ = e : (this.orientedFlatCoordinates_ = e.slice(), this.orientedFlatCoordinates_.length = yr(
        this.orientedFlatCoordinates_,
        0,
        this.ends_,
        this.stride
      )), this.orientedRevision_ = this.getRevision();
    }
    return (
      /** @type {Array<number>} */
      this.orientedFlatCoordinates_
    );
  }
  /**
   * @param {number} squaredTolerance Squared tolerance.
   * @return {Polygon} Simplified Polygon.
   * @protected
   * @override
   */
  getSimplifiedGeometryInternal(e) {
    const t = [], n = [];
    return t.length = Na(
      this.flatCoordinates,
      0,
      this.ends_,
      this.stride,
      Math.sqrt(e),
      t,
      0,
      n
    ), new rt(t, "XY", n);
  }
  /**
   * Get the type of this geometry.
   * @return {import("./Geometry.js").Type} Geometry type.
   * @api
   * @override
   */
  getType() {
    return "Polygon";
  }
  /**
   * Test if the geometry and the passed extent intersect.
   * @param {import("../extent.js").Extent} extent Extent.
   * @return {boolean} `true` if the geometry and the extent intersect.
   * @api
   * @override
   */
  intersectsExtent(e) {
    return bh(
      this.getOrientedFlatCoordinates(),
      0,
      this.ends_,
      this.stride,
      e
    );
  }
  /**
   * Set the coordinates of the polygon.
   * @param {!Array<Array<import("../coordinate.js").Coordinate>>} coordinates Coordinates.
   * @param {import("./Geometry.js").GeometryLayout} [layout] Layout.
   * @api
   * @override
   */
  setCoordinates(e, t) {
    this.setLayout(t, e, 2), this.flatCoordinates || (this.flatCoordinates = []);
    const n = Ds(
      this.flatCoordinates,
      0,
      e,
      this.stride,
      this.ends_
    );
    this.flatCoordinates.length = n.length === 0 ? 0 : n[n.length - 1], this.changed();
  }
}
function Hl(i) {
  if (wi(i))
    throw new Error("Cannot create polygon from empty extent");
  const e = i[0], t = i[1], n = i[2], s = i[3], r = [
    e,
    t,
    e,
    s,
    n,
    s,
    n,
    t,
    e,
    t
  ];
  return new rt(r, "XY", [r.length]);
}
function Oh(i, e, t, n) {
  const s = [];
  let r = ut();
  for (let o = 0, a = t.length; o < a; ++o) {
    const l = t[o];
    r = va(
      i,
      e,
      l[0],
      n
    ), s.push((r[0] + r[2]) / 2, (r[1] + r[3]) / 2), e = l[l.length - 1];
  }
  return s;
}
class ps extends jn {
  /**
   * @param {Array<Array<Array<import("../coordinate.js").Coordinate>>|Polygon>|Array<number>} coordinates Coordinates.
   *     For internal use, flat coordinates in combination with `layout` and `endss` are also accepted.
   * @param {import("./Geometry.js").GeometryLayout} [layout] Layout.
   * @param {Array<Array<number>>} [endss] Array of ends for internal use with flat coordinates.
   */
  constructor(e, t, n) {
    if (super(), this.endss_ = [], this.flatInteriorPointsRevision_ = -1, this.flatInteriorPoints_ = null, this.maxDelta_ = -1, this.maxDeltaRevision_ = -1, this.orientedRevision_ = -1, this.orientedFlatCoordinates_ = null, !n && !Array.isArray(e[0])) {
      const s = (
        /** @type {Array<Polygon>} */
        e
      ), r = [], o = [];
      for (let a = 0, l = s.length; a < l; ++a) {
        const c = s[a], h = r.length, u = c.getEnds();
        for (let d = 0, f = u.length; d < f; ++d)
          u[d] += h;
        Bt(r, c.getFlatCoordinates()), o.push(u);
      }
      t = s.length === 0 ? this.getLayout() : s[0].getLayout(), e = r, n = o;
    }
    t !== void 0 && n ? (this.setFlatCoordinates(
      t,
      /** @type {Array<number>} */
      e
    ), this.endss_ = n) : this.setCoordinates(
      /** @type {Array<Array<Array<import("../coordinate.js").Coordinate>>>} */
      e,
      t
    );
  }
  /**
   * Append the passed polygon to this multipolygon.
   * @param {Polygon} polygon Polygon.
   * @api
   */
  appendPolygon(e) {
    let t;
    if (!this.flatCoordinates)
      this.flatCoordinates = e.getFlatCoordinates().slice(), t = e.getEnds().slice(), this.endss_.push();
    else {
      const n = this.flatCoordinates.length;
      Bt(this.flatCoordinates, e.getFlatCoordinates()), t = e.getEnds().slice();
      for (let s = 0, r = t.length; s < r; ++s)
        t[s] += n;
    }
    this.endss_.push(t), this.changed();
  }
  /**
   * Make a complete copy of the geometry.
   * @return {!MultiPolygon} Clone.
   * @api
   * @override
   */
  clone() {
    const e = this.endss_.length, t = new Array(e);
    for (let s = 0; s < e; ++s)
      t[s] = this.endss_[s].slice();
    const n = new ps(
      this.flatCoordinates.slice(),
      this.layout,
      t
    );
    return n.applyProperties(this), n;
  }
  /**
   * @param {number} x X.
   * @param {number} y Y.
   * @param {import("../coordinate.js").Coordinate} closestPoint Closest point.
   * @param {number} minSquaredDistance Minimum squared distance.
   * @return {number} Minimum squared distance.
   * @override
   */
  closestPointXY(e, t, n, s) {
    return s < Vn(this.getExtent(), e, t) ? s : (this.maxDeltaRevision_ != this.getRevision() && (this.maxDelta_ = Math.sqrt(
      Yf(
        this.flatCoordinates,
        0,
        this.endss_,
        this.stride,
        0
      )
    ), this.maxDeltaRevision_ = this.getRevision()), Zf(
      this.getOrientedFlatCoordinates(),
      0,
      this.endss_,
      this.stride,
      this.maxDelta_,
      !0,
      e,
      t,
      n,
      s
    ));
  }
  /**
   * @param {number} x X.
   * @param {number} y Y.
   * @return {boolean} Contains (x, y).
   * @override
   */
  containsXY(e, t) {
    return Qf(
      this.getOrientedFlatCoordinates(),
      0,
      this.endss_,
      this.stride,
      e,
      t
    );
  }
  /**
   * Return the area of the multipolygon on projected plane.
   * @return {number} Area (on projected plane).
   * @api
   */
  getArea() {
    return jf(
      this.getOrientedFlatCoordinates(),
      0,
      this.endss_,
      this.stride
    );
  }
  /**
   * Get the coordinate array for this geometry.  This array has the structure
   * of a GeoJSON coordinate array for multi-polygons.
   *
   * @param {boolean} [right] Orient coordinates according to the right-hand
   *     rule (counter-clockwise for exterior and clockwise for interior rings).
   *     If `false`, coordinates will be oriented according to the left-hand rule
   *     (clockwise for exterior and counter-clockwise for interior rings).
   *     By default, coordinate orientation will depend on how the geometry was
   *     constructed.
   * @return {Array<Array<Array<import("../coordinate.js").Coordinate>>>} Coordinates.
   * @api
   * @override
   */
  getCoordinates(e) {
    let t;
    return e !== void 0 ? (t = this.getOrientedFlatCoordinates().slice(), ia(
      t,
      0,
      this.endss_,
      this.stride,
      e
    )) : t = this.flatCoordinates, ta(
      t,
      0,
      this.endss_,
      this.stride
    );
  }
  /**
   * @return {Array<Array<number>>} Endss.
   */
  getEndss() {
    return this.endss_;
  }
  /**
   * @return {Array<number>} Flat interior points.
   */
  getFlatInteriorPoints() {
    if (this.flatInteriorPointsRevision_ != this.getRevision()) {
      const e = Oh(
        this.flatCoordinates,
        0,
        this.endss_,
        this.stride
      );
      this.flatInteriorPoints_ = Lh(
        this.getOrientedFlatCoordinates(),
        0,
        this.endss_,
        this.stride,
        e
      ), this.flatInteriorPointsRevision_ = this.getRevision();
    }
    return (
      /** @type {Array<number>} */
      this.flatInteriorPoints_
    );
  }
  /**
   * Return the interior points as {@link module:ol/geom/MultiPoint~MultiPoint multipoint}.
   * @return {MultiPoint} Interior points as XYM coordinates, where M is
   * the length of the horizontal intersection that the point belongs to.
   * @api
   */
  getInteriorPoints() {
    return new Os(this.getFlatInteriorPoints().slice(), "XYM");
  }
  /**
   * @return {Array<number>} Oriented flat coordinates.
   */
  getOrientedFlatCoordinates() {
    if (this.orientedRevision_ != this.getRevision()) {
      const e = this.flatCoordinates;
      Mh(e, 0, this.endss_, this.stride) ? this.orientedFlatCoordinates_ = e : (this.orientedFlatCoordinates_ = e.slice(), this.orientedFlatCoordinates_.length = ia(
        this.orientedFlatCoordinates_,
        0,
        this.endss_,
        this.stride
      )), this.orientedRevision_ = this.getRevision();
    }
    return (
      /** @type {Array<number>} */
      this.orientedFlatCoordinates_
    );
  }
  /**
   * @param {number} squaredTolerance Squared tolerance.
   * @return {MultiPolygon} Simplified MultiPolygon.
   * @protected
   * @override
   */
  getSimplifiedGeometryInternal(e) {
    const t = [], n = [];
    return t.length = Hf(
      this.flatCoordinates,
      0,
      this.endss_,
      this.stride,
      Math.sqrt(e),
      t,
      0,
      n
    ), new ps(t, "XY", n);
  }
  /**
   * Return the polygon at the specified index.
   * @param {number} index Index.
   * @return {Polygon} Polygon.
   * @api
   */
  getPolygon(e) {
    if (e < 0 || this.endss_.length <= e)
      return null;
    let t;
    if (e === 0)
      t = 0;
    else {
      const r = this.endss_[e - 1];
      t = r[r.length - 1];
    }
    const n = this.endss_[e].slice(), s = n[n.length - 1];
    if (t !== 0)
      for (let r = 0, o = n.length; r < o; ++r)
        n[r] -= t;
    return new rt(
      this.flatCoordinates.slice(t, s),
      this.layout,
      n
    );
  }
  /**
   * Return the polygons of this multipolygon.
   * @return {Array<Polygon>} Polygons.
   * @api
   */
  getPolygons() {
    const e = this.layout, t = this.flatCoordinates, n = this.endss_, s = [];
    let r = 0;
    for (let o = 0, a = n.length; o < a; ++o) {
      const l = n[o].slice(), c = l[l.length - 1];
      if (r !== 0)
        for (let u = 0, d = l.length; u < d; ++u)
          l[u] -= r;
      const h = new rt(
        t.slice(r, c),
        e,
        l
      );
      s.push(h), r = c;
    }
    return s;
  }
  /**
   * Get the type of this geometry.
   * @return {import("./Geometry.js").Type} Geometry type.
   * @api
   * @override
   */
  getType() {
    return "MultiPolygon";
  }
  /**
   * Test if the geometry and the passed extent intersect.
   * @param {import("../extent.js").Extent} extent Extent.
   * @return {boolean} `true` if the geometry and the extent intersect.
   * @api
   * @override
   */
  intersectsExtent(e) {
    return tg(
      this.getOrientedFlatCoordinates(),
      0,
      this.endss_,
      this.stride,
      e
    );
  }
  /**
   * Set the coordinates of the multipolygon.
   * @param {!Array<Array<Array<import("../coordinate.js").Coordinate>>>} coordinates Coordinates.
   * @param {import("./Geometry.js").GeometryLayout} [layout] Layout.
   * @api
   * @override
   */
  setCoordinates(e, t) {
    this.setLayout(t, e, 3), this.flatCoordinates || (this.flatCoordinates = []);
    const n = Rh(
      this.flatCoordinates,
      0,
      e,
      this.stride,
      this.endss_
    );
    if (n.length === 0)
      this.flatCoordinates.length = 0;
    else {
      const s = n[n.length - 1];
      this.flatCoordinates.length = s.length === 0 ? 0 : s[s.length - 1];
    }
    this.changed();
  }
}
const q = {
  IDLE: 0,
  LOADING: 1,
  LOADED: 2,
  ERROR: 3
}, $n = typeof navigator < "u" && typeof navigator.userAgent < "u" ? navigator.userAgent.toLowerCase() : "", ig = $n.includes("safari") && !$n.includes("chrom"), sg = ig && ($n.includes("version/15.4") || /cpu (os|iphone os) 15_4 like mac os x/.test($n)), rg = $n.includes("webkit") && !$n.includes("edge"), Nh = $n.includes("macintosh"), og = typeof devicePixelRatio < "u" ? devicePixelRatio : 1, ct = typeof WorkerGlobalScope < "u" && typeof OffscreenCanvas < "u" && self instanceof WorkerGlobalScope, kh = typeof Image < "u" && Image.prototype.decode, Gh = (function() {
  let i = !1;
  try {
    const e = Object.defineProperty({}, "passive", {
      get: function() {
        i = !0;
      }
    });
    window.addEventListener("_", null, e), window.removeEventListener("_", null, e);
  } catch {
  }
  return i;
})();
function Pe(i, e, t, n) {
  let s;
  return t && t.length ? s = /** @type {HTMLCanvasElement} */
  t.shift() : ct ? s = new class extends OffscreenCanvas {
    style = {};
  }(i ?? 300, e ?? 150) : s = document.createElement("canvas"), i && (s.width = i), e && (s.height = e), /** @type {CanvasRenderingContext2D|OffscreenCanvasRenderingContext2D} */
  s.getContext("2d", n);
}
let co;
function xr() {
  return co || (co = Pe(1, 1)), co;
}
function Wr(i) {
  const e = i.canvas;
  e.width = 1, e.height = 1, i.clearRect(0, 0, 1, 1);
}
function ql(i, e) {
  const t = e.parentNode;
  t && t.replaceChild(i, e);
}
function ag(i) {
  for (; i.lastChild; )
    i.lastChild.remove();
}
function lg(i, e) {
  const t = i.childNodes;
  for (let n = 0; ; ++n) {
    const s = t[n], r = e[n];
    if (!s && !r)
      break;
    if (s !== r) {
      if (!s) {
        i.appendChild(r);
        continue;
      }
      if (!r) {
        i.removeChild(s), --n;
        continue;
      }
      i.insertBefore(r, s);
    }
  }
}
function Bh() {
  return new Proxy(
    {
      /**
       * @type {Array<HTMLElement>}
       */
      childNodes: [],
      /**
       * @param {HTMLElement} node html node.
       * @return {HTMLElement} html node.
       */
      appendChild: function(e) {
        return this.childNodes.push(e), e;
      },
      /**
       * dummy function, as this structure is not supposed to have a parent.
       */
      remove: function() {
      },
      /**
       * @param {HTMLElement} node html node.
       * @return {HTMLElement} html node.
       */
      removeChild: function(e) {
        const t = this.childNodes.indexOf(e);
        if (t === -1)
          throw new Error("Node to remove was not found");
        return this.childNodes.splice(t, 1), e;
      },
      /**
       * @param {HTMLElement} newNode new html node.
       * @param {HTMLElement} referenceNode reference html node.
       * @return {HTMLElement} new html node.
       */
      insertBefore: function(e, t) {
        const n = this.childNodes.indexOf(t);
        if (n === -1)
          throw new Error("Reference node not found");
        return this.childNodes.splice(n, 0, e), e;
      },
      style: {}
    },
    {
      get(e, t, n) {
        return t === "firstElementChild" ? e.childNodes.length > 0 ? e.childNodes[0] : null : Reflect.get(e, t, n);
      }
    }
  );
}
function yn(i) {
  return typeof HTMLCanvasElement < "u" && i instanceof HTMLCanvasElement || typeof OffscreenCanvas < "u" && i instanceof OffscreenCanvas;
}
const $a = [NaN, NaN, NaN, 0];
let ho;
function cg() {
  return ho || (ho = Pe(1, 1, void 0, {
    willReadFrequently: !0,
    desynchronized: !0
  })), ho;
}
const hg = /^rgba?\(\s*(\d+%?)\s+(\d+%?)\s+(\d+%?)(?:\s*\/\s*(\d+%|\d*\.\d+|[01]))?\s*\)$/i, ug = /^rgba?\(\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)(?:\s*,\s*(\d+%|\d*\.\d+|[01]))?\s*\)$/i, dg = /^rgba?\(\s*(\d+%)\s*,\s*(\d+%)\s*,\s*(\d+%)(?:\s*,\s*(\d+%|\d*\.\d+|[01]))?\s*\)$/i, fg = /^#([\da-f]{3,4}|[\da-f]{6}|[\da-f]{8})$/i;
function Zs(i, e) {
  return i.endsWith("%") ? Number(i.substring(0, i.length - 1)) / e : Number(i);
}
function ns(i) {
  throw new Error('failed to parse "' + i + '" as color');
}
function Uh(i) {
  if (i.toLowerCase().startsWith("rgb")) {
    const r = i.match(ug) || i.match(hg) || i.match(dg);
    if (r) {
      const o = r[4], a = 100 / 255;
      return [
        de(Zs(r[1], a) + 0.5 | 0, 0, 255),
        de(Zs(r[2], a) + 0.5 | 0, 0, 255),
        de(Zs(r[3], a) + 0.5 | 0, 0, 255),
        o !== void 0 ? de(Zs(o, 100), 0, 1) : 1
      ];
    }
    ns(i);
  }
  if (i.startsWith("#")) {
    if (fg.test(i)) {
      const r = i.substring(1), o = r.length <= 4 ? 1 : 2, a = [0, 0, 0, 255];
      for (let l = 0, c = r.length; l < c; l += o) {
        let h = parseInt(r.substring(l, l + o), 16);
        o === 1 && (h += h << 4), a[l / o] = h;
      }
      return a[3] = a[3] / 255, a;
    }
    ns(i);
  }
  const e = cg();
  e.fillStyle = "#abcdef";
  let t = e.fillStyle;
  e.fillStyle = i, e.fillStyle === t && (e.fillStyle = "#fedcba", t = e.fillStyle, e.fillStyle = i, e.fillStyle === t && ns(i));
  const n = e.fillStyle;
  if (n.startsWith("#") || n.startsWith("rgba"))
    return Uh(n);
  e.clearRect(0, 0, 1, 1), e.fillRect(0, 0, 1, 1);
  const s = Array.from(e.getImageData(0, 0, 1, 1).data);
  return s[3] = As(s[3] / 255, 3), s;
}
function gg(i) {
  return typeof i == "string" ? i : Va(i);
}
const _g = 1024, Ui = {};
let uo = 0;
function mg(i) {
  if (i.length === 4)
    return i;
  const e = i.slice();
  return e[3] = 1, e;
}
function fo(i) {
  return i > 31308e-7 ? Math.pow(i, 1 / 2.4) * 269.025 - 14.025 : i * 3294.6;
}
function go(i) {
  return i > 0.2068965 ? Math.pow(i, 3) : (i - 4 / 29) * (108 / 841);
}
function _o(i) {
  return i > 10.314724 ? Math.pow((i + 14.025) / 269.025, 2.4) : i / 3294.6;
}
function mo(i) {
  return i > 88564e-7 ? Math.pow(i, 1 / 3) : i / (108 / 841) + 4 / 29;
}
function Jl(i) {
  const e = _o(i[0]), t = _o(i[1]), n = _o(i[2]), s = mo(e * 0.222488403 + t * 0.716873169 + n * 0.06060791), r = 500 * (mo(e * 0.452247074 + t * 0.399439023 + n * 0.148375274) - s), o = 200 * (s - mo(e * 0.016863605 + t * 0.117638439 + n * 0.865350722)), a = Math.atan2(o, r) * (180 / Math.PI);
  return [
    116 * s - 16,
    Math.sqrt(r * r + o * o),
    a < 0 ? a + 360 : a,
    i[3]
  ];
}
function pg(i) {
  const e = (i[0] + 16) / 116, t = i[1], n = i[2] * Math.PI / 180, s = go(e), r = go(e + t / 500 * Math.cos(n)), o = go(e - t / 200 * Math.sin(n)), a = fo(r * 3.021973625 - s * 1.617392459 - o * 0.404875592), l = fo(r * -0.943766287 + s * 1.916279586 + o * 0.027607165), c = fo(r * 0.069407491 - s * 0.22898585 + o * 1.159737864);
  return [
    de(a + 0.5 | 0, 0, 255),
    de(l + 0.5 | 0, 0, 255),
    de(c + 0.5 | 0, 0, 255),
    i[3]
  ];
}
function Wa(i) {
  if (i === "none")
    return $a;
  if (Ui.hasOwnProperty(i))
    return Ui[i];
  if (uo >= _g) {
    let t = 0;
    for (const n in Ui)
      (t++ & 3) === 0 && (delete Ui[n], --uo);
  }
  const e = Uh(i);
  e.length !== 4 && ns(i);
  for (const t of e)
    isNaN(t) && ns(i);
  return Ui[i] = e, ++uo, e;
}
function Pt(i) {
  return Array.isArray(i) ? i : Wa(i);
}
function Va(i) {
  let e = i[0];
  e != (e | 0) && (e = e + 0.5 | 0);
  let t = i[1];
  t != (t | 0) && (t = t + 0.5 | 0);
  let n = i[2];
  n != (n | 0) && (n = n + 0.5 | 0);
  const s = i[3] === void 0 ? 1 : Math.round(i[3] * 1e3) / 1e3;
  return "rgba(" + e + "," + t + "," + n + "," + s + ")";
}
function yg(i, e, t) {
  const n = (
    /** @type {HTMLImageElement} */
    i
  );
  let s = !0, r = !1, o = !1;
  const a = [
    mr(n, Y.LOAD, function() {
      o = !0, r || e();
    })
  ];
  return n.src && kh ? (r = !0, n.decode().then(function() {
    s && e();
  }).catch(function(l) {
    s && (o ? e() : t());
  })) : a.push(mr(n, Y.ERROR, t)), function() {
    s = !1, a.forEach(ce);
  };
}
function xg(i, e) {
  return new Promise((t, n) => {
    function s() {
      o(), t(i);
    }
    function r() {
      o(), n(new Error("Image load error"));
    }
    function o() {
      i.removeEventListener("load", s), i.removeEventListener("error", r);
    }
    i.addEventListener("load", s), i.addEventListener("error", r);
  });
}
function Eg(i, e) {
  return e && (i.src = e), i.src && kh ? new Promise(
    (t, n) => i.decode().then(() => t(i)).catch(
      (s) => i.complete && i.width ? t(i) : n(s)
    )
  ) : xg(i);
}
class vg {
  constructor() {
    this.cache_ = {}, this.patternCache_ = {}, this.cacheSize_ = 0, this.maxCacheSize_ = 1024;
  }
  /**
   * FIXME empty description for jsdoc
   */
  clear() {
    this.cache_ = {}, this.patternCache_ = {}, this.cacheSize_ = 0;
  }
  /**
   * @return {boolean} Can expire cache.
   */
  canExpireCache() {
    return this.cacheSize_ > this.maxCacheSize_;
  }
  /**
   * FIXME empty description for jsdoc
   */
  expire() {
    if (this.canExpireCache()) {
      let e = 0;
      for (const t in this.cache_) {
        const n = this.cache_[t];
        (e++ & 3) === 0 && !n.hasListener() && (delete this.cache_[t], delete this.patternCache_[t], --this.cacheSize_);
      }
    }
  }
  /**
   * @param {string} src Src.
   * @param {?string} crossOrigin Cross origin.
   * @param {import("../color.js").Color|string|null} color Color.
   * @return {import("./IconImage.js").default} Icon image.
   */
  get(e, t, n) {
    const s = po(e, t, n);
    return s in this.cache_ ? this.cache_[s] : null;
  }
  /**
   * @param {string} src Src.
   * @param {?string} crossOrigin Cross origin.
   * @param {import("../color.js").Color|string|null} color Color.
   * @return {CanvasPattern} Icon image.
   */
  getPattern(e, t, n) {
    const s = po(e, t, n);
    return s in this.patternCache_ ? this.patternCache_[s] : null;
  }
  /**
   * @param {string} src Src.
   * @param {?string} crossOrigin Cross origin.
   * @param {import("../color.js").Color|string|null} color Color.
   * @param {import("./IconImage.js").default|null} iconImage Icon image.
   * @param {boolean} [pattern] Also cache a `'repeat'` pattern with this `iconImage`.
   */
  set(e, t, n, s, r) {
    const o = po(e, t, n), a = o in this.cache_;
    this.cache_[o] = s, r && (s.getImageState() === q.IDLE && s.load(), s.getImageState() === q.LOADING ? s.ready().then(() => {
      this.patternCache_[o] = xr().createPattern(
        s.getImage(1),
        "repeat"
      );
    }) : this.patternCache_[o] = xr().createPattern(
      s.getImage(1),
      "repeat"
    )), a || ++this.cacheSize_;
  }
  /**
   * Set the cache size of the icon cache. Default is `1024`. Change this value when
   * your map uses more than 1024 different icon images and you are not caching icon
   * styles on the application level.
   * @param {number} maxCacheSize Cache max size.
   * @api
   */
  setSize(e) {
    this.maxCacheSize_ = e, this.expire();
  }
}
function po(i, e, t) {
  const n = t ? Pt(t) : "null";
  return e + ":" + i + ":" + n;
}
const ht = new vg();
let zi = null;
class zh extends Br {
  /**
   * @param {HTMLImageElement|HTMLCanvasElement|OffscreenCanvas|ImageBitmap|null} image Image.
   * @param {string|undefined} src Src.
   * @param {?string} crossOrigin Cross origin.
   * @param {import("../ImageState.js").default|undefined} imageState Image state.
   * @param {import("../color.js").Color|string|null} color Color.
   */
  constructor(e, t, n, s, r) {
    super(), this.hitDetectionImage_ = null, this.image_ = e, this.crossOrigin_ = n, this.canvas_ = {}, this.color_ = r, this.imageState_ = s === void 0 ? q.IDLE : s, this.size_ = e && e.width && e.height ? [e.width, e.height] : null, this.src_ = t, this.tainted_, this.ready_ = null;
  }
  /**
   * @private
   */
  initializeImage_() {
    this.image_ = new Image(), this.crossOrigin_ !== null && (this.image_.crossOrigin = this.crossOrigin_);
  }
  /**
   * @private
   * @return {boolean} The image canvas is tainted.
   */
  isTainted_() {
    if (this.tainted_ === void 0 && this.imageState_ === q.LOADED) {
      zi || (zi = Pe(1, 1, void 0, {
        willReadFrequently: !0
      })), zi.drawImage(this.image_, 0, 0);
      try {
        zi.getImageData(0, 0, 1, 1), this.tainted_ = !1;
      } catch {
        zi = null, this.tainted_ = !0;
      }
    }
    return this.tainted_ === !0;
  }
  /**
   * @private
   */
  dispatchChangeEvent_() {
    this.dispatchEvent(Y.CHANGE);
  }
  /**
   * @private
   */
  handleImageError_() {
    this.imageState_ = q.ERROR, this.dispatchChangeEvent_();
  }
  /**
   * @private
   */
  handleImageLoad_() {
    this.imageState_ = q.LOADED, this.size_ = [this.image_.width, this.image_.height], this.dispatchChangeEvent_();
  }
  /**
   * @param {number} pixelRatio Pixel ratio.
   * @return {HTMLImageElement|HTMLCanvasElement|OffscreenCanvas|ImageBitmap} Image or Canvas element or image bitmap.
   */
  getImage(e) {
    return this.image_ || this.initializeImage_(), this.replaceColor_(e), this.canvas_[e] ? this.canvas_[e] : this.image_;
  }
  /**
   * @param {number} pixelRatio Pixel ratio.
   * @return {number} Image or Canvas element.
   */
  getPixelRatio(e) {
    return this.replaceColor_(e), this.canvas_[e] ? e : 1;
  }
  /**
   * @return {import("../ImageState.js").default} Image state.
   */
  getImageState() {
    return this.imageState_;
  }
  /**
   * @return {HTMLImageElement|HTMLCanvasElement|OffscreenCanvas|ImageBitmap} Image element.
   */
  getHitDetectionImage() {
    if (this.image_ || this.initializeImage_(), !this.hitDetectionImage_)
      if (this.isTainted_()) {
        const e = this.size_[0], t = this.size_[1], n = Pe(e, t);
        n.fillRect(0, 0, e, t), this.hitDetectionImage_ = n.canvas;
      } else
        this.hitDetectionImage_ = this.image_;
    return this.hitDetectionImage_;
  }
  /**
   * Get the size of the icon (in pixels).
   * @return {import("../size.js").Size} Image size.
   */
  getSize() {
    return this.size_;
  }
  /**
   * @return {string|undefined} Image src.
   */
  getSrc() {
    return this.src_;
  }
  /**
   * Load not yet loaded URI.
   */
  load() {
    if (this.imageState_ === q.IDLE) {
      this.image_ || this.initializeImage_(), this.imageState_ = q.LOADING;
      try {
        this.src_ !== void 0 && (this.image_.src = this.src_);
      } catch {
        this.handleImageError_();
      }
      this.image_ instanceof HTMLImageElement && Eg(this.image_, this.src_).then((e) => {
        this.image_ = e, this.handleImageLoad_();
      }).catch(this.handleImageError_.bind(this));
    }
  }
  /**
   * @param {number} pixelRatio Pixel ratio.
   * @private
   */
  replaceColor_(e) {
    if (!this.color_ || this.canvas_[e] || this.imageState_ !== q.LOADED)
      return;
    const t = this.image_, n = Pe(
      Math.ceil(t.width * e),
      Math.ceil(t.height * e)
    ), s = n.canvas;
    n.scale(e, e), n.drawImage(t, 0, 0), n.globalCompositeOperation = "multiply", n.fillStyle = gg(this.color_), n.fillRect(0, 0, s.width / e, s.height / e), n.globalCompositeOperation = "destination-in", n.drawImage(t, 0, 0), this.canvas_[e] = s;
  }
  /**
   * @return {Promise<void>} Promise that resolves when the image is loaded.
   */
  ready() {
    return this.ready_ || (this.ready_ = new Promise((e) => {
      if (this.imageState_ === q.LOADED || this.imageState_ === q.ERROR)
        e();
      else {
        const t = () => {
          (this.imageState_ === q.LOADED || this.imageState_ === q.ERROR) && (this.removeEventListener(Y.CHANGE, t), e());
        };
        this.addEventListener(Y.CHANGE, t);
      }
    })), this.ready_;
  }
}
function Er(i, e, t, n, s, r) {
  let o = e === void 0 ? void 0 : ht.get(e, t, s);
  return o || (o = new zh(
    i,
    i && "src" in i ? i.src || void 0 : e,
    t,
    n,
    s
  ), ht.set(e, t, s, o, r)), r && o && !ht.getPattern(e, t, s) && ht.set(e, t, s, o, r), o;
}
function kt(i) {
  return i ? Array.isArray(i) ? Va(i) : typeof i == "object" && "src" in i ? Cg(i) : i : null;
}
function Cg(i) {
  if (!i.offset || !i.size)
    return ht.getPattern(i.src, "anonymous", i.color);
  const e = i.src + ":" + i.offset, t = ht.getPattern(
    e,
    void 0,
    i.color
  );
  if (t)
    return t;
  const n = ht.get(i.src, "anonymous", null);
  if (n.getImageState() !== q.LOADED)
    return null;
  const s = Pe(
    i.size[0],
    i.size[1]
  );
  return s.drawImage(
    n.getImage(1),
    i.offset[0],
    i.offset[1],
    i.size[0],
    i.size[1],
    0,
    0,
    i.size[0],
    i.size[1]
  ), Er(
    s.canvas,
    e,
    void 0,
    q.LOADED,
    i.color,
    !0
  ), ht.getPattern(e, void 0, i.color);
}
const Ks = "ol-hidden", Vr = "ol-unselectable", Xa = "ol-control", Ql = "ol-collapsed", Tg = new RegExp(
  [
    "^\\s*(?=(?:(?:[-a-z]+\\s*){0,2}(italic|oblique))?)",
    "(?=(?:(?:[-a-z]+\\s*){0,2}(small-caps))?)",
    "(?=(?:(?:[-a-z]+\\s*){0,2}(bold(?:er)?|lighter|[1-9]00 ))?)",
    "(?:(?:normal|\\1|\\2|\\3)\\s*){0,3}((?:xx?-)?",
    "(?:small|large)|medium|smaller|larger|[\\.\\d]+(?:\\%|in|[cem]m|ex|p[ctx]))",
    "(?:\\s*\\/\\s*(normal|[\\.\\d]+(?:\\%|in|[cem]m|ex|p[ctx])?))",
    `?\\s*([-,\\"\\'\\sa-z0-9]+?)\\s*$`
  ].join(""),
  "i"
), ec = [
  "style",
  "variant",
  "weight",
  "size",
  "lineHeight",
  "family"
], sa = {
  normal: 400,
  bold: 700
}, ra = function(i) {
  const e = i.match(Tg);
  if (!e)
    return null;
  const t = (
    /** @type {FontParameters} */
    {
      lineHeight: "normal",
      size: "1.2em",
      style: "normal",
      weight: "400",
      variant: "normal"
    }
  );
  for (let n = 0, s = ec.length; n < s; ++n) {
    const r = e[n + 1];
    r !== void 0 && (t[ec[n]] = typeof r == "string" ? r.trim() : r);
  }
  return isNaN(Number(t.weight)) && t.weight in sa && (t.weight = sa[t.weight]), t.families = t.family.split(/,\s?/).map((n) => n.trim().replace(/^['"]|['"]$/g, "")), t;
}, $h = "10px sans-serif", et = "#000", Ai = "round", sn = [], rn = 0, Fi = "round", ys = 10, xs = "#000", Es = "center", vr = "middle", Mn = [0, 0, 0, 0], vs = 1, ui = new Wt();
let $i = null, tc;
const oa = {}, Sg = /* @__PURE__ */ new Set([
  "serif",
  "sans-serif",
  "monospace",
  "cursive",
  "fantasy",
  "system-ui",
  "ui-serif",
  "ui-sans-serif",
  "ui-monospace",
  "ui-rounded",
  "emoji",
  "math",
  "fangsong"
]);
function Rg(i, e, t) {
  return `${i} ${e} 16px "${t}"`;
}
const wg = /* @__PURE__ */ (function() {
  let e, t;
  async function n(r) {
    await t.ready;
    const o = await t.load(r);
    if (o.length === 0)
      return !1;
    const a = ra(r), l = a.families[0].toLowerCase(), c = a.weight;
    return o.some(
      /**
       * @param {import('../css.js').FontParameters} f Font.
       * @return {boolean} Font matches.
       */
      (h) => {
        const u = h.family.replace(/^['"]|['"]$/g, "").toLowerCase(), d = sa[h.weight] || h.weight;
        return u === l && h.style === a.style && d == c;
      }
    );
  }
  async function s() {
    await t.ready;
    let r = !0;
    const o = ui.getProperties(), a = Object.keys(o).filter(
      (l) => o[l] < 100
    );
    for (let l = a.length - 1; l >= 0; --l) {
      const c = a[l];
      let h = o[c];
      h < 100 && (await n(c) ? (Mi(oa), ui.set(c, 100)) : (h += 10, ui.set(c, h, !0), h < 100 && (r = !1)));
    }
    e = void 0, r || (e = setTimeout(s, 100));
  }
  return async function(r) {
    t || (t = ct ? self.fonts : document.fonts);
    const o = ra(r);
    if (!o)
      return;
    const a = o.families;
    let l = !1;
    for (const c of a) {
      if (Sg.has(c))
        continue;
      const h = Rg(o.style, o.weight, c);
      ui.get(h) === void 0 && (ui.set(h, 0, !0), l = !0);
    }
    l && (clearTimeout(e), e = setTimeout(s, 100));
  };
})(), Pg = /* @__PURE__ */ (function() {
  let i;
  return function(e) {
    let t = oa[e];
    if (t == null) {
      if (ct) {
        const n = ra(e), s = Wh(e, "Žg");
        t = (isNaN(Number(n.lineHeight)) ? 1.2 : Number(n.lineHeight)) * (s.actualBoundingBoxAscent + s.actualBoundingBoxDescent);
      } else
        i || (i = document.createElement("div"), i.innerHTML = "M", i.style.minHeight = "0", i.style.maxHeight = "none", i.style.height = "auto", i.style.padding = "0", i.style.border = "none", i.style.position = "absolute", i.style.display = "block", i.style.left = "-99999px"), i.style.font = e, document.body.appendChild(i), t = i.offsetHeight, document.body.removeChild(i);
      oa[e] = t;
    }
    return t;
  };
})();
function Wh(i, e) {
  return $i || ($i = Pe(1, 1)), i != tc && ($i.font = i, tc = $i.font), $i.measureText(e);
}
function Vh(i, e) {
  return Wh(i, e).width;
}
function nc(i, e, t) {
  if (e in t)
    return t[e];
  const n = e.split(`
`).reduce((s, r) => Math.max(s, Vh(i, r)), 0);
  return t[e] = n, n;
}
function Ig(i, e) {
  const t = [], n = [], s = [];
  let r = 0, o = 0, a = 0, l = 0;
  for (let c = 0, h = e.length; c <= h; c += 2) {
    const u = e[c];
    if (u === `
` || c === h) {
      r = Math.max(r, o), s.push(o), o = 0, a += l, l = 0;
      continue;
    }
    const d = e[c + 1] || i.font, f = Vh(d, u);
    t.push(f), o += f;
    const g = Pg(d);
    n.push(g), l = Math.max(l, g);
  }
  return { width: r, height: a, widths: t, heights: n, lineWidths: s };
}
function Ag(i, e, t, n, s, r, o, a, l, c, h) {
  i.save(), t !== 1 && (i.globalAlpha === void 0 ? i.globalAlpha = (u) => u.globalAlpha *= t : i.globalAlpha *= t), e && i.transform.apply(i, e), /** @type {*} */
  n.contextInstructions ? (i.translate(l, c), i.scale(h[0], h[1]), Fg(
    /** @type {Label} */
    n,
    i
  )) : h[0] < 0 || h[1] < 0 ? (i.translate(l, c), i.scale(h[0], h[1]), i.drawImage(
    /** @type {HTMLCanvasElement|HTMLImageElement|HTMLVideoElement} */
    n,
    s,
    r,
    o,
    a,
    0,
    0,
    o,
    a
  )) : i.drawImage(
    /** @type {HTMLCanvasElement|HTMLImageElement|HTMLVideoElement} */
    n,
    s,
    r,
    o,
    a,
    l,
    c,
    o * h[0],
    a * h[1]
  ), i.restore();
}
function Fg(i, e) {
  const t = i.contextInstructions;
  for (let n = 0, s = t.length; n < s; n += 2)
    Array.isArray(t[n + 1]) ? e[t[n]].apply(
      e,
      t[n + 1]
    ) : e[t[n]] = t[n + 1];
}
function ic(i) {
  return i[0] > 0 && i[1] > 0;
}
function bg(i, e, t) {
  return t === void 0 && (t = [0, 0]), t[0] = i[0] * e + 0.5 | 0, t[1] = i[1] * e + 0.5 | 0, t;
}
function qe(i, e) {
  return Array.isArray(i) ? i : (e === void 0 ? e = [i, i] : (e[0] = i, e[1] = i), e);
}
class Xr {
  /**
   * @param {Options} options Options.
   */
  constructor(e) {
    this.opacity_ = e.opacity, this.rotateWithView_ = e.rotateWithView, this.rotation_ = e.rotation, this.scale_ = e.scale, this.scaleArray_ = qe(e.scale), this.displacement_ = e.displacement, this.declutterMode_ = e.declutterMode;
  }
  /**
   * Clones the style.
   * @return {ImageStyle} The cloned style.
   * @api
   */
  clone() {
    const e = this.getScale();
    return new Xr({
      opacity: this.getOpacity(),
      scale: Array.isArray(e) ? e.slice() : e,
      rotation: this.getRotation(),
      rotateWithView: this.getRotateWithView(),
      displacement: this.getDisplacement().slice(),
      declutterMode: this.getDeclutterMode()
    });
  }
  /**
   * Get the symbolizer opacity.
   * @return {number} Opacity.
   * @api
   */
  getOpacity() {
    return this.opacity_;
  }
  /**
   * Determine whether the symbolizer rotates with the map.
   * @return {boolean} Rotate with map.
   * @api
   */
  getRotateWithView() {
    return this.rotateWithView_;
  }
  /**
   * Get the symoblizer rotation.
   * @return {number} Rotation.
   * @api
   */
  getRotation() {
    return this.rotation_;
  }
  /**
   * Get the symbolizer scale.
   * @return {number|import("../size.js").Size} Scale.
   * @api
   */
  getScale() {
    return this.scale_;
  }
  /**
   * Get the symbolizer scale array.
   * @return {import("../size.js").Size} Scale array.
   */
  getScaleArray() {
    return this.scaleArray_;
  }
  /**
   * Get the displacement of the shape
   * @return {Array<number>} Shape's center displacement
   * @api
   */
  getDisplacement() {
    return this.displacement_;
  }
  /**
   * Get the declutter mode of the shape
   * @return {import("./Style.js").DeclutterMode} Shape's declutter mode
   * @api
   */
  getDeclutterMode() {
    return this.declutterMode_;
  }
  /**
   * Get the anchor point in pixels. The anchor determines the center point for the
   * symbolizer.
   * @abstract
   * @return {Array<number>} Anchor.
   */
  getAnchor() {
    return X();
  }
  /**
   * Get the image element for the symbolizer.
   * @abstract
   * @param {number} pixelRatio Pixel ratio.
   * @return {import('../DataTile.js').ImageLike} Image element.
   */
  getImage(e) {
    return X();
  }
  /**
   * @abstract
   * @return {import('../DataTile.js').ImageLike} Image element.
   */
  getHitDetectionImage() {
    return X();
  }
  /**
   * Get the image pixel ratio.
   * @param {number} pixelRatio Pixel ratio.
   * @return {number} Pixel ratio.
   */
  getPixelRatio(e) {
    return 1;
  }
  /**
   * @abstract
   * @return {import("../ImageState.js").default} Image state.
   */
  getImageState() {
    return X();
  }
  /**
   * @abstract
   * @return {import("../size.js").Size} Image size.
   */
  getImageSize() {
    return X();
  }
  /**
   * Get the origin of the symbolizer.
   * @abstract
   * @return {Array<number>} Origin.
   */
  getOrigin() {
    return X();
  }
  /**
   * Get the size of the symbolizer (in pixels).
   * @abstract
   * @return {import("../size.js").Size} Size.
   */
  getSize() {
    return X();
  }
  /**
   * Set the displacement.
   *
   * @param {Array<number>} displacement Displacement.
   * @api
   */
  setDisplacement(e) {
    this.displacement_ = e;
  }
  /**
   * Set the opacity.
   *
   * @param {number} opacity Opacity.
   * @api
   */
  setOpacity(e) {
    this.opacity_ = e;
  }
  /**
   * Set whether to rotate the style with the view.
   *
   * @param {boolean} rotateWithView Rotate with map.
   * @api
   */
  setRotateWithView(e) {
    this.rotateWithView_ = e;
  }
  /**
   * Set the rotation.
   *
   * @param {number} rotation Rotation.
   * @api
   */
  setRotation(e) {
    this.rotation_ = e;
  }
  /**
   * Set the scale.
   *
   * @param {number|import("../size.js").Size} scale Scale.
   * @api
   */
  setScale(e) {
    this.scale_ = e, this.scaleArray_ = qe(e);
  }
  /**
   * @abstract
   * @param {function(import("../events/Event.js").default): void} listener Listener function.
   */
  listenImageChange(e) {
    X();
  }
  /**
   * Load not yet loaded URI.
   * @abstract
   */
  load() {
    X();
  }
  /**
   * @abstract
   * @param {function(import("../events/Event.js").default): void} listener Listener function.
   */
  unlistenImageChange(e) {
    X();
  }
  /**
   * @return {Promise<void>} `false` or Promise that resolves when the style is ready to use.
   */
  ready() {
    return Promise.resolve();
  }
}
class jr extends Xr {
  /**
   * @param {Options} options Options.
   */
  constructor(e) {
    super({
      opacity: 1,
      rotateWithView: e.rotateWithView !== void 0 ? e.rotateWithView : !1,
      rotation: e.rotation !== void 0 ? e.rotation : 0,
      scale: e.scale !== void 0 ? e.scale : 1,
      displacement: e.displacement !== void 0 ? e.displacement : [0, 0],
      declutterMode: e.declutterMode
    }), this.hitDetectionCanvas_ = null, this.fill_ = e.fill !== void 0 ? e.fill : null, this.origin_ = [0, 0], this.points_ = e.points, this.radius = e.radius, this.radius2_ = e.radius2, this.angle_ = e.angle !== void 0 ? e.angle : 0, this.stroke_ = e.stroke !== void 0 ? e.stroke : null, this.size_, this.renderOptions_, this.imageState_ = this.fill_ && this.fill_.loading() ? q.LOADING : q.LOADED, this.imageState_ === q.LOADING && this.ready().then(() => this.imageState_ = q.LOADED), this.render();
  }
  /**
   * Clones the style.
   * @return {RegularShape} The cloned style.
   * @api
   * @override
   */
  clone() {
    const e = this.getScale(), t = new jr({
      fill: this.getFill() ? this.getFill().clone() : void 0,
      points: this.getPoints(),
      radius: this.getRadius(),
      radius2: this.getRadius2(),
      angle: this.getAngle(),
      stroke: this.getStroke() ? this.getStroke().clone() : void 0,
      rotation: this.getRotation(),
      rotateWithView: this.getRotateWithView(),
      scale: Array.isArray(e) ? e.slice() : e,
      displacement: this.getDisplacement().slice(),
      declutterMode: this.getDeclutterMode()
    });
    return t.setOpacity(this.getOpacity()), t;
  }
  /**
   * Get the anchor point in pixels. The anchor determines the center point for the
   * symbolizer.
   * @return {Array<number>} Anchor.
   * @api
   * @override
   */
  getAnchor() {
    const e = this.size_, t = this.getDisplacement(), n = this.getScaleArray();
    return [
      e[0] / 2 - t[0] / n[0],
      e[1] / 2 + t[1] / n[1]
    ];
  }
  /**
   * Get the angle used in generating the shape.
   * @return {number} Shape's rotation in radians.
   * @api
   */
  getAngle() {
    return this.angle_;
  }
  /**
   * Get the fill style for the shape.
   * @return {import("./Fill.js").default|null} Fill style.
   * @api
   */
  getFill() {
    return this.fill_;
  }
  /**
   * Set the fill style.
   * @param {import("./Fill.js").default|null} fill Fill style.
   * @api
   */
  setFill(e) {
    this.fill_ = e, this.render();
  }
  /**
   * @return {HTMLCanvasElement|OffscreenCanvas} Image element.
   * @override
   */
  getHitDetectionImage() {
    return this.hitDetectionCanvas_ || (this.hitDetectionCanvas_ = this.createHitDetectionCanvas_(
      this.renderOptions_
    )), this.hitDetectionCanvas_;
  }
  /**
   * Get the image icon.
   * @param {number} pixelRatio Pixel ratio.
   * @return {HTMLCanvasElement|OffscreenCanvas} Image or Canvas element.
   * @api
   * @override
   */
  getImage(e) {
    const t = this.fill_?.getKey(), n = `${e},${this.angle_},${this.radius},${this.radius2_},${this.points_},${t}` + Object.values(this.renderOptions_).join(",");
    let s = (
      /** @type {HTMLCanvasElement|OffscreenCanvas} */
      ht.get(n, null, null)?.getImage(1)
    );
    if (!s) {
      const r = this.renderOptions_, o = Math.ceil(r.size * e), a = Pe(o, o);
      this.draw_(r, a, e), s = a.canvas, ht.set(
        n,
        null,
        null,
        new zh(s, void 0, null, q.LOADED, null)
      );
    }
    return s;
  }
  /**
   * Get the image pixel ratio.
   * @param {number} pixelRatio Pixel ratio.
   * @return {number} Pixel ratio.
   * @override
   */
  getPixelRatio(e) {
    return e;
  }
  /**
   * @return {import("../size.js").Size} Image size.
   * @override
   */
  getImageSize() {
    return this.size_;
  }
  /**
   * @return {import("../ImageState.js").default} Image state.
   * @override
   */
  getImageState() {
    return this.imageState_;
  }
  /**
   * Get the origin of the symbolizer.
   * @return {Array<number>} Origin.
   * @api
   * @override
   */
  getOrigin() {
    return this.origin_;
  }
  /**
   * Get the number of points for generating the shape.
   * @return {number} Number of points for stars and regular polygons.
   * @api
   */
  getPoints() {
    return this.points_;
  }
  /**
   * Get the (primary) radius for the shape.
   * @return {number} Radius.
   * @api
   */
  getRadius() {
    return this.radius;
  }
  /**
   * Get the secondary radius for the shape.
   * @return {number|undefined} Radius2.
   * @api
   */
  getRadius2() {
    return this.radius2_;
  }
  /**
   * Get the size of the symbolizer (in pixels).
   * @return {import("../size.js").Size} Size.
   * @api
   * @override
   */
  getSize() {
    return this.size_;
  }
  /**
   * Get the stroke style for the shape.
   * @return {import("./Stroke.js").default|null} Stroke style.
   * @api
   */
  getStroke() {
    return this.stroke_;
  }
  /**
   * Set the stroke style.
   * @param {import("./Stroke.js").default|null} stroke Stroke style.
   * @api
   */
  setStroke(e) {
    this.stroke_ = e, this.render();
  }
  /**
   * @param {function(import("../events/Event.js").default): void} listener Listener function.
   * @override
   */
  listenImageChange(e) {
  }
  /**
   * Load not yet loaded URI.
   * @override
   */
  load() {
  }
  /**
   * @param {function(import("../events/Event.js").default): void} listener Listener function.
   * @override
   */
  unlistenImageChange(e) {
  }
  /**
   * Calculate additional canvas size needed for the miter.
   * @param {string} lineJoin Line join
   * @param {number} strokeWidth Stroke width
   * @param {number} miterLimit Miter limit
   * @return {number} Additional canvas size needed
   * @private
   */
  calculateLineJoinSize_(e, t, n) {
    if (t === 0 || this.points_ === 1 / 0 || e !== "bevel" && e !== "miter")
      return t;
    let s = this.radius, r = this.radius2_ === void 0 ? s : this.radius2_;
    if (s < r) {
      const T = s;
      s = r, r = T;
    }
    const o = this.radius2_ === void 0 ? this.points_ : this.points_ * 2, a = 2 * Math.PI / o, l = r * Math.sin(a), c = Math.sqrt(r * r - l * l), h = s - c, u = Math.sqrt(l * l + h * h), d = u / l;
    if (e === "miter" && d <= n)
      return d * t;
    const f = t / 2 / d, g = t / 2 * (h / u), _ = Math.sqrt((s + f) * (s + f) + g * g) - s;
    if (this.radius2_ === void 0 || e === "bevel")
      return _ * 2;
    const p = s * Math.sin(a), x = Math.sqrt(s * s - p * p), v = r - x, y = Math.sqrt(p * p + v * v) / p;
    if (y <= n) {
      const T = y * t / 2 - r - s;
      return 2 * Math.max(_, T);
    }
    return _ * 2;
  }
  /**
   * @return {RenderOptions}  The render options
   * @protected
   */
  createRenderOptions() {
    let e = Ai, t = Fi, n = 0, s = null, r = 0, o, a = 0;
    this.stroke_ && (o = kt(this.stroke_.getColor() ?? xs), a = this.stroke_.getWidth() ?? vs, s = this.stroke_.getLineDash(), r = this.stroke_.getLineDashOffset() ?? 0, t = this.stroke_.getLineJoin() ?? Fi, e = this.stroke_.getLineCap() ?? Ai, n = this.stroke_.getMiterLimit() ?? ys);
    const l = this.calculateLineJoinSize_(t, a, n), c = Math.max(this.radius, this.radius2_ || 0), h = Math.ceil(2 * c + l);
    return {
      strokeStyle: o,
      strokeWidth: a,
      size: h,
      lineCap: e,
      lineDash: s,
      lineDashOffset: r,
      lineJoin: t,
      miterLimit: n
    };
  }
  /**
   * @protected
   */
  render() {
    this.renderOptions_ = this.createRenderOptions();
    const e = this.renderOptions_.size;
    this.hitDetectionCanvas_ = null, this.size_ = [e, e];
  }
  /**
   * @private
   * @param {RenderOptions} renderOptions Render options.
   * @param {CanvasRenderingContext2D|OffscreenCanvasRenderingContext2D} context The rendering context.
   * @param {number} pixelRatio The pixel ratio.
   */
  draw_(e, t, n) {
    if (t.scale(n, n), t.translate(e.size / 2, e.size / 2), this.createPath_(t), this.fill_) {
      let s = this.fill_.getColor();
      s === null && (s = et), t.fillStyle = kt(s), t.fill();
    }
    e.strokeStyle && (t.strokeStyle = e.strokeStyle, t.lineWidth = e.strokeWidth, e.lineDash && (t.setLineDash(e.lineDash), t.lineDashOffset = e.lineDashOffset), t.lineCap = e.lineCap, t.lineJoin = e.lineJoin, t.miterLimit = e.miterLimit, t.stroke());
  }
  /**
   * @private
   * @param {RenderOptions} renderOptions Render options.
   * @return {HTMLCanvasElement|OffscreenCanvas} Canvas containing the icon
   */
  createHitDetectionCanvas_(e) {
    let t;
    if (this.fill_) {
      let n = this.fill_.getColor(), s = 0;
      typeof n == "string" && (n = Pt(n)), n === null ? s = 1 : Array.isArray(n) && (s = n.length === 4 ? n[3] : 1), s === 0 && (t = Pe(e.size, e.size), this.drawHitDetectionCanvas_(e, t));
    }
    return t ? t.canvas : this.getImage(1);
  }
  /**
   * @private
   * @param {CanvasRenderingContext2D|OffscreenCanvasRenderingContext2D} context The context to draw in.
   */
  createPath_(e) {
    let t = this.points_;
    const n = this.radius;
    if (t === 1 / 0)
      e.arc(0, 0, n, 0, 2 * Math.PI);
    else {
      const s = this.radius2_ === void 0 ? n : this.radius2_;
      this.radius2_ !== void 0 && (t *= 2);
      const r = this.angle_ - Math.PI / 2, o = 2 * Math.PI / t;
      for (let a = 0; a < t; a++) {
        const l = r + a * o, c = a % 2 === 0 ? n : s;
        e.lineTo(c * Math.cos(l), c * Math.sin(l));
      }
      e.closePath();
    }
  }
  /**
   * @private
   * @param {RenderOptions} renderOptions Render options.
   * @param {CanvasRenderingContext2D|OffscreenCanvasRenderingContext2D} context The context.
   */
  drawHitDetectionCanvas_(e, t) {
    t.translate(e.size / 2, e.size / 2), this.createPath_(t), t.fillStyle = et, t.fill(), e.strokeStyle && (t.strokeStyle = e.strokeStyle, t.lineWidth = e.strokeWidth, e.lineDash && (t.setLineDash(e.lineDash), t.lineDashOffset = e.lineDashOffset), t.lineJoin = e.lineJoin, t.miterLimit = e.miterLimit, t.stroke());
  }
  /**
   * @override
   */
  ready() {
    return this.fill_ ? this.fill_.ready() : Promise.resolve();
  }
}
class Tn extends jr {
  /**
   * @param {Options} [options] Options.
   */
  constructor(e) {
    e = e || { radius: 5 }, super({
      points: 1 / 0,
      fill: e.fill,
      radius: e.radius,
      stroke: e.stroke,
      scale: e.scale !== void 0 ? e.scale : 1,
      rotation: e.rotation !== void 0 ? e.rotation : 0,
      rotateWithView: e.rotateWithView !== void 0 ? e.rotateWithView : !1,
      displacement: e.displacement !== void 0 ? e.displacement : [0, 0],
      declutterMode: e.declutterMode
    });
  }
  /**
   * Clones the style.
   * @return {CircleStyle} The cloned style.
   * @api
   * @override
   */
  clone() {
    const e = this.getScale(), t = new Tn({
      fill: this.getFill() ? this.getFill().clone() : void 0,
      stroke: this.getStroke() ? this.getStroke().clone() : void 0,
      radius: this.getRadius(),
      scale: Array.isArray(e) ? e.slice() : e,
      rotation: this.getRotation(),
      rotateWithView: this.getRotateWithView(),
      displacement: this.getDisplacement().slice(),
      declutterMode: this.getDeclutterMode()
    });
    return t.setOpacity(this.getOpacity()), t;
  }
  /**
   * Set the circle radius.
   *
   * @param {number} radius Circle radius.
   * @api
   */
  setRadius(e) {
    this.radius = e, this.render();
  }
}
class vt {
  /**
   * @param {Options} [options] Options.
   */
  constructor(e) {
    e = e || {}, this.patternImage_ = null, this.color_ = null, e.color !== void 0 && this.setColor(e.color);
  }
  /**
   * Clones the style. The color is not cloned if it is a {@link module:ol/colorlike~ColorLike}.
   * @return {Fill} The cloned style.
   * @api
   */
  clone() {
    const e = this.getColor();
    return new vt({
      color: Array.isArray(e) ? e.slice() : e || void 0
    });
  }
  /**
   * Get the fill color.
   * @return {import("../color.js").Color|import("../colorlike.js").ColorLike|import('../colorlike.js').PatternDescriptor|null} Color.
   * @api
   */
  getColor() {
    return this.color_;
  }
  /**
   * Set the color.
   *
   * @param {import("../color.js").Color|import("../colorlike.js").ColorLike|import('../colorlike.js').PatternDescriptor|null} color Color.
   * @api
   */
  setColor(e) {
    if (e !== null && typeof e == "object" && "src" in e) {
      const t = Er(
        null,
        e.src,
        "anonymous",
        void 0,
        e.offset ? null : e.color ? e.color : null,
        !(e.offset && e.size)
      );
      t.ready().then(() => {
        this.patternImage_ = null;
      }), t.getImageState() === q.IDLE && t.load(), t.getImageState() === q.LOADING && (this.patternImage_ = t);
    }
    this.color_ = e;
  }
  /**
   * @return {string} Key of the fill for cache lookup.
   */
  getKey() {
    const e = this.getColor();
    return e ? e instanceof CanvasPattern || e instanceof CanvasGradient ? z(e) : typeof e == "object" && "src" in e ? e.src + ":" + e.offset : Pt(e).toString() : "";
  }
  /**
   * @return {boolean} The fill style is loading an image pattern.
   */
  loading() {
    return !!this.patternImage_;
  }
  /**
   * @return {Promise<void>} `false` or a promise that resolves when the style is ready to use.
   */
  ready() {
    return this.patternImage_ ? this.patternImage_.ready() : Promise.resolve();
  }
}
function sc(i, e, t, n) {
  return t !== void 0 && n !== void 0 ? [t / i, n / e] : t !== void 0 ? t / i : n !== void 0 ? n / e : 1;
}
class Yr extends Xr {
  /**
   * @param {Options} [options] Options.
   */
  constructor(e) {
    e = e || {};
    const t = e.opacity !== void 0 ? e.opacity : 1, n = e.rotation !== void 0 ? e.rotation : 0, s = e.scale !== void 0 ? e.scale : 1, r = e.rotateWithView !== void 0 ? e.rotateWithView : !1;
    super({
      opacity: t,
      rotation: n,
      scale: s,
      displacement: e.displacement !== void 0 ? e.displacement : [0, 0],
      rotateWithView: r,
      declutterMode: e.declutterMode
    }), this.anchor_ = e.anchor !== void 0 ? e.anchor : [0.5, 0.5], this.normalizedAnchor_ = null, this.anchorOrigin_ = e.anchorOrigin !== void 0 ? e.anchorOrigin : "top-left", this.anchorXUnits_ = e.anchorXUnits !== void 0 ? e.anchorXUnits : "fraction", this.anchorYUnits_ = e.anchorYUnits !== void 0 ? e.anchorYUnits : "fraction", this.crossOrigin_ = e.crossOrigin !== void 0 ? e.crossOrigin : null;
    const o = e.img !== void 0 ? e.img : null;
    let a = e.src;
    ie(
      !(a !== void 0 && o),
      "`image` and `src` cannot be provided at the same time"
    ), (a === void 0 || a.length === 0) && o && (a = /** @type {HTMLImageElement} */
    o.src || z(o)), ie(
      a !== void 0 && a.length > 0,
      "A defined and non-empty `src` or `image` must be provided"
    ), ie(
      !((e.width !== void 0 || e.height !== void 0) && e.scale !== void 0),
      "`width` or `height` cannot be provided together with `scale`"
    );
    let l;
    if (e.src !== void 0 ? l = q.IDLE : o !== void 0 && ("complete" in o ? o.complete ? l = o.src ? q.LOADED : q.IDLE : l = q.LOADING : l = q.LOADED), this.color_ = e.color !== void 0 ? Pt(e.color) : null, this.iconImage_ = Er(
      o,
      /** @type {string} */
      a,
      this.crossOrigin_,
      l,
      this.color_
    ), this.offset_ = e.offset !== void 0 ? e.offset : [0, 0], this.offsetOrigin_ = e.offsetOrigin !== void 0 ? e.offsetOrigin : "top-left", this.origin_ = null, this.size_ = e.size !== void 0 ? e.size : null, this.initialOptions_, e.width !== void 0 || e.height !== void 0) {
      let c, h;
      if (e.size)
        [c, h] = e.size;
      else {
        const u = this.getImage(1);
        if (u.width && u.height)
          c = u.width, h = u.height;
        else if (u instanceof HTMLImageElement) {
          this.initialOptions_ = e;
          const d = () => {
            if (this.unlistenImageChange(d), !this.initialOptions_)
              return;
            const f = this.iconImage_.getSize();
            this.setScale(
              sc(
                f[0],
                f[1],
                e.width,
                e.height
              )
            );
          };
          this.listenImageChange(d);
          return;
        }
      }
      c !== void 0 && this.setScale(
        sc(c, h, e.width, e.height)
      );
    }
  }
  /**
   * Clones the style. The underlying Image/HTMLCanvasElement is not cloned.
   * @return {Icon} The cloned style.
   * @api
   * @override
   */
  clone() {
    let e, t, n;
    return this.initialOptions_ ? (t = this.initialOptions_.width, n = this.initialOptions_.height) : (e = this.getScale(), e = Array.isArray(e) ? e.slice() : e), new Yr({
      anchor: this.anchor_.slice(),
      anchorOrigin: this.anchorOrigin_,
      anchorXUnits: this.anchorXUnits_,
      anchorYUnits: this.anchorYUnits_,
      color: this.color_ && this.color_.slice ? this.color_.slice() : this.color_ || void 0,
      crossOrigin: this.crossOrigin_,
      offset: this.offset_.slice(),
      offsetOrigin: this.offsetOrigin_,
      opacity: this.getOpacity(),
      rotateWithView: this.getRotateWithView(),
      rotation: this.getRotation(),
      scale: e,
      width: t,
      height: n,
      size: this.size_ !== null ? this.size_.slice() : void 0,
      src: this.getSrc(),
      displacement: this.getDisplacement().slice(),
      declutterMode: this.getDeclutterMode()
    });
  }
  /**
   * Get the anchor point in pixels. The anchor determines the center point for the
   * symbolizer.
   * @return {Array<number>} Anchor.
   * @api
   * @override
   */
  getAnchor() {
    let e = this.normalizedAnchor_;
    if (!e) {
      e = this.anchor_;
      const s = this.getSize();
      if (this.anchorXUnits_ == "fraction" || this.anchorYUnits_ == "fraction") {
        if (!s)
          return null;
        e = this.anchor_.slice(), this.anchorXUnits_ == "fraction" && (e[0] *= s[0]), this.anchorYUnits_ == "fraction" && (e[1] *= s[1]);
      }
      if (this.anchorOrigin_ != "top-left") {
        if (!s)
          return null;
        e === this.anchor_ && (e = this.anchor_.slice()), (this.anchorOrigin_ == "top-right" || this.anchorOrigin_ == "bottom-right") && (e[0] = -e[0] + s[0]), (this.anchorOrigin_ == "bottom-left" || this.anchorOrigin_ == "bottom-right") && (e[1] = -e[1] + s[1]);
      }
      this.normalizedAnchor_ = e;
    }
    const t = this.getDisplacement(), n = this.getScaleArray();
    return [
      e[0] - t[0] / n[0],
      e[1] + t[1] / n[1]
    ];
  }
  /**
   * Set the anchor point. The anchor determines the center point for the
   * symbolizer.
   *
   * @param {Array<number>} anchor Anchor.
   * @api
   */
  setAnchor(e) {
    this.anchor_ = e, this.normalizedAnchor_ = null;
  }
  /**
   * Get the icon color.
   * @return {import("../color.js").Color} Color.
   * @api
   */
  getColor() {
    return this.color_;
  }
  /**
   * Get the image icon.
   * @param {number} pixelRatio Pixel ratio.
   * @return {HTMLImageElement|HTMLCanvasElement|OffscreenCanvas|ImageBitmap} Image or Canvas element. If the Icon
   * style was configured with `src` or with a not let loaded `img`, an `ImageBitmap` will be returned.
   * @api
   * @override
   */
  getImage(e) {
    return this.iconImage_.getImage(e);
  }
  /**
   * Get the pixel ratio.
   * @param {number} pixelRatio Pixel ratio.
   * @return {number} The pixel ratio of the image.
   * @api
   * @override
   */
  getPixelRatio(e) {
    return this.iconImage_.getPixelRatio(e);
  }
  /**
   * @return {import("../size.js").Size} Image size.
   * @override
   */
  getImageSize() {
    return this.iconImage_.getSize();
  }
  /**
   * @return {import("../ImageState.js").default} Image state.
   * @override
   */
  getImageState() {
    return this.iconImage_.getImageState();
  }
  /**
   * @return {HTMLImageElement|HTMLCanvasElement|OffscreenCanvas|ImageBitmap} Image element.
   * @override
   */
  getHitDetectionImage() {
    return this.iconImage_.getHitDetectionImage();
  }
  /**
   * Get the origin of the symbolizer.
   * @return {Array<number>} Origin.
   * @api
   * @override
   */
  getOrigin() {
    if (this.origin_)
      return this.origin_;
    let e = this.offset_;
    if (this.offsetOrigin_ != "top-left") {
      const t = this.getSize(), n = this.iconImage_.getSize();
      if (!t || !n)
        return null;
      e = e.slice(), (this.offsetOrigin_ == "top-right" || this.offsetOrigin_ == "bottom-right") && (e[0] = n[0] - t[0] - e[0]), (this.offsetOrigin_ == "bottom-left" || this.offsetOrigin_ == "bottom-right") && (e[1] = n[1] - t[1] - e[1]);
    }
    return this.origin_ = e, this.origin_;
  }
  /**
   * Get the image URL.
   * @return {string|undefined} Image src.
   * @api
   */
  getSrc() {
    return this.iconImage_.getSrc();
  }
  /**
   * Set the image URI
   * @param {string} src Image source URI
   * @api
   */
  setSrc(e) {
    this.iconImage_ = Er(
      null,
      e,
      this.crossOrigin_,
      q.IDLE,
      this.color_
    );
  }
  /**
   * Get the size of the icon (in pixels).
   * @return {import("../size.js").Size} Image size.
   * @api
   * @override
   */
  getSize() {
    return this.size_ ? this.size_ : this.iconImage_.getSize();
  }
  /**
   * Get the width of the icon (in pixels). Will return undefined when the icon image is not yet loaded.
   * @return {number} Icon width (in pixels).
   * @api
   */
  getWidth() {
    const e = this.getScaleArray();
    if (this.size_)
      return this.size_[0] * e[0];
    if (this.iconImage_.getImageState() == q.LOADED)
      return this.iconImage_.getSize()[0] * e[0];
  }
  /**
   * Get the height of the icon (in pixels). Will return undefined when the icon image is not yet loaded.
   * @return {number} Icon height (in pixels).
   * @api
   */
  getHeight() {
    const e = this.getScaleArray();
    if (this.size_)
      return this.size_[1] * e[1];
    if (this.iconImage_.getImageState() == q.LOADED)
      return this.iconImage_.getSize()[1] * e[1];
  }
  /**
   * Set the scale.
   *
   * @param {number|import("../size.js").Size} scale Scale.
   * @api
   * @override
   */
  setScale(e) {
    delete this.initialOptions_, super.setScale(e);
  }
  /**
   * @param {function(import("../events/Event.js").default): void} listener Listener function.
   * @override
   */
  listenImageChange(e) {
    this.iconImage_.addEventListener(Y.CHANGE, e);
  }
  /**
   * Load not yet loaded URI.
   * When rendering a feature with an icon style, the vector renderer will
   * automatically call this method. However, you might want to call this
   * method yourself for preloading or other purposes.
   * @api
   * @override
   */
  load() {
    this.iconImage_.load();
  }
  /**
   * @param {function(import("../events/Event.js").default): void} listener Listener function.
   * @override
   */
  unlistenImageChange(e) {
    this.iconImage_.removeEventListener(Y.CHANGE, e);
  }
  /**
   * @override
   */
  ready() {
    return this.iconImage_.ready();
  }
}
class Rt {
  /**
   * @param {Options} [options] Options.
   */
  constructor(e) {
    e = e || {}, this.color_ = e.color !== void 0 ? e.color : null, this.lineCap_ = e.lineCap, this.lineDash_ = e.lineDash !== void 0 ? e.lineDash : null, this.lineDashOffset_ = e.lineDashOffset, this.lineJoin_ = e.lineJoin, this.miterLimit_ = e.miterLimit, this.width_ = e.width;
  }
  /**
   * Clones the style.
   * @return {Stroke} The cloned style.
   * @api
   */
  clone() {
    const e = this.getColor();
    return new Rt({
      color: Array.isArray(e) ? e.slice() : e || void 0,
      lineCap: this.getLineCap(),
      lineDash: this.getLineDash() ? this.getLineDash().slice() : void 0,
      lineDashOffset: this.getLineDashOffset(),
      lineJoin: this.getLineJoin(),
      miterLimit: this.getMiterLimit(),
      width: this.getWidth()
    });
  }
  /**
   * Get the stroke color.
   * @return {import("../color.js").Color|import("../colorlike.js").ColorLike} Color.
   * @api
   */
  getColor() {
    return this.color_;
  }
  /**
   * Get the line cap type for the stroke.
   * @return {CanvasLineCap|undefined} Line cap.
   * @api
   */
  getLineCap() {
    return this.lineCap_;
  }
  /**
   * Get the line dash style for the stroke.
   * @return {Array<number>|null} Line dash.
   * @api
   */
  getLineDash() {
    return this.lineDash_;
  }
  /**
   * Get the line dash offset for the stroke.
   * @return {number|undefined} Line dash offset.
   * @api
   */
  getLineDashOffset() {
    return this.lineDashOffset_;
  }
  /**
   * Get the line join type for the stroke.
   * @return {CanvasLineJoin|undefined} Line join.
   * @api
   */
  getLineJoin() {
    return this.lineJoin_;
  }
  /**
   * Get the miter limit for the stroke.
   * @return {number|undefined} Miter limit.
   * @api
   */
  getMiterLimit() {
    return this.miterLimit_;
  }
  /**
   * Get the stroke width.
   * @return {number|undefined} Width.
   * @api
   */
  getWidth() {
    return this.width_;
  }
  /**
   * Set the color.
   *
   * @param {import("../color.js").Color|import("../colorlike.js").ColorLike} color Color.
   * @api
   */
  setColor(e) {
    this.color_ = e;
  }
  /**
   * Set the line cap.
   *
   * @param {CanvasLineCap|undefined} lineCap Line cap.
   * @api
   */
  setLineCap(e) {
    this.lineCap_ = e;
  }
  /**
   * Set the line dash.
   *
   * @param {Array<number>|null} lineDash Line dash.
   * @api
   */
  setLineDash(e) {
    this.lineDash_ = e;
  }
  /**
   * Set the line dash offset.
   *
   * @param {number|undefined} lineDashOffset Line dash offset.
   * @api
   */
  setLineDashOffset(e) {
    this.lineDashOffset_ = e;
  }
  /**
   * Set the line join.
   *
   * @param {CanvasLineJoin|undefined} lineJoin Line join.
   * @api
   */
  setLineJoin(e) {
    this.lineJoin_ = e;
  }
  /**
   * Set the miter limit.
   *
   * @param {number|undefined} miterLimit Miter limit.
   * @api
   */
  setMiterLimit(e) {
    this.miterLimit_ = e;
  }
  /**
   * Set the width.
   *
   * @param {number|undefined} width Width.
   * @api
   */
  setWidth(e) {
    this.width_ = e;
  }
}
class Ne {
  /**
   * @param {Options} [options] Style options.
   */
  constructor(e) {
    e = e || {}, this.geometry_ = null, this.geometryFunction_ = rc, e.geometry !== void 0 && this.setGeometry(e.geometry), this.fill_ = e.fill !== void 0 ? e.fill : null, this.image_ = e.image !== void 0 ? e.image : null, this.renderer_ = e.renderer !== void 0 ? e.renderer : null, this.hitDetectionRenderer_ = e.hitDetectionRenderer !== void 0 ? e.hitDetectionRenderer : null, this.stroke_ = e.stroke !== void 0 ? e.stroke : null, this.text_ = e.text !== void 0 ? e.text : null, this.zIndex_ = e.zIndex;
  }
  /**
   * Clones the style.
   * @return {Style} The cloned style.
   * @api
   */
  clone() {
    let e = this.getGeometry();
    return e && typeof e == "object" && (e = /** @type {import("../geom/Geometry.js").default} */
    e.clone()), new Ne({
      geometry: e ?? void 0,
      fill: this.getFill() ? this.getFill().clone() : void 0,
      image: this.getImage() ? this.getImage().clone() : void 0,
      renderer: this.getRenderer() ?? void 0,
      stroke: this.getStroke() ? this.getStroke().clone() : void 0,
      text: this.getText() ? this.getText().clone() : void 0,
      zIndex: this.getZIndex()
    });
  }
  /**
   * Get the custom renderer function that was configured with
   * {@link #setRenderer} or the `renderer` constructor option.
   * @return {RenderFunction|null} Custom renderer function.
   * @api
   */
  getRenderer() {
    return this.renderer_;
  }
  /**
   * Sets a custom renderer function for this style. When set, `fill`, `stroke`
   * and `image` options of the style will be ignored.
   * @param {RenderFunction|null} renderer Custom renderer function.
   * @api
   */
  setRenderer(e) {
    this.renderer_ = e;
  }
  /**
   * Sets a custom renderer function for this style used
   * in hit detection.
   * @param {RenderFunction|null} renderer Custom renderer function.
   * @api
   */
  setHitDetectionRenderer(e) {
    this.hitDetectionRenderer_ = e;
  }
  /**
   * Get the custom renderer function that was configured with
   * {@link #setHitDetectionRenderer} or the `hitDetectionRenderer` constructor option.
   * @return {RenderFunction|null} Custom renderer function.
   * @api
   */
  getHitDetectionRenderer() {
    return this.hitDetectionRenderer_;
  }
  /**
   * Get the geometry to be rendered.
   * @return {string|import("../geom/Geometry.js").default|GeometryFunction|null}
   * Feature property or geometry or function that returns the geometry that will
   * be rendered with this style.
   * @api
   */
  getGeometry() {
    return this.geometry_;
  }
  /**
   * Get the function used to generate a geometry for rendering.
   * @return {!GeometryFunction} Function that is called with a feature
   * and returns the geometry to render instead of the feature's geometry.
   * @api
   */
  getGeometryFunction() {
    return this.geometryFunction_;
  }
  /**
   * Get the fill style.
   * @return {import("./Fill.js").default|null} Fill style.
   * @api
   */
  getFill() {
    return this.fill_;
  }
  /**
   * Set the fill style.
   * @param {import("./Fill.js").default|null} fill Fill style.
   * @api
   */
  setFill(e) {
    this.fill_ = e;
  }
  /**
   * Get the image style.
   * @return {import("./Image.js").default|null} Image style.
   * @api
   */
  getImage() {
    return this.image_;
  }
  /**
   * Set the image style.
   * @param {import("./Image.js").default} image Image style.
   * @api
   */
  setImage(e) {
    this.image_ = e;
  }
  /**
   * Get the stroke style.
   * @return {import("./Stroke.js").default|null} Stroke style.
   * @api
   */
  getStroke() {
    return this.stroke_;
  }
  /**
   * Set the stroke style.
   * @param {import("./Stroke.js").default|null} stroke Stroke style.
   * @api
   */
  setStroke(e) {
    this.stroke_ = e;
  }
  /**
   * Get the text style.
   * @return {import("./Text.js").default|null} Text style.
   * @api
   */
  getText() {
    return this.text_;
  }
  /**
   * Set the text style.
   * @param {import("./Text.js").default} text Text style.
   * @api
   */
  setText(e) {
    this.text_ = e;
  }
  /**
   * Get the z-index for the style.
   * @return {number|undefined} ZIndex.
   * @api
   */
  getZIndex() {
    return this.zIndex_;
  }
  /**
   * Set a geometry that is rendered instead of the feature's geometry.
   *
   * @param {string|import("../geom/Geometry.js").default|GeometryFunction|null} geometry
   *     Feature property or geometry or function returning a geometry to render
   *     for this style.
   * @api
   */
  setGeometry(e) {
    typeof e == "function" ? this.geometryFunction_ = e : typeof e == "string" ? this.geometryFunction_ = function(t) {
      return (
        /** @type {import("../geom/Geometry.js").default} */
        t.get(e)
      );
    } : e ? e !== void 0 && (this.geometryFunction_ = function() {
      return (
        /** @type {import("../geom/Geometry.js").default} */
        e
      );
    }) : this.geometryFunction_ = rc, this.geometry_ = e;
  }
  /**
   * Set the z-index.
   *
   * @param {number|undefined} zIndex ZIndex.
   * @api
   */
  setZIndex(e) {
    this.zIndex_ = e;
  }
}
function Lg(i) {
  let e;
  if (typeof i == "function")
    e = i;
  else {
    let t;
    Array.isArray(i) ? t = i : (ie(
      typeof /** @type {?} */
      i.getZIndex == "function",
      "Expected an `Style` or an array of `Style`"
    ), t = [
      /** @type {Style} */
      i
    ]), e = function() {
      return t;
    };
  }
  return e;
}
let yo = null;
function Xh(i, e) {
  if (!yo) {
    const t = new vt({
      color: "rgba(255,255,255,0.4)"
    }), n = new Rt({
      color: "#3399CC",
      width: 1.25
    });
    yo = [
      new Ne({
        image: new Tn({
          fill: t,
          stroke: n,
          radius: 5
        }),
        fill: t,
        stroke: n
      })
    ];
  }
  return yo;
}
function Mg() {
  const i = {}, e = [255, 255, 255, 1], t = [0, 153, 255, 1], n = 3;
  return i.Polygon = [
    new Ne({
      fill: new vt({
        color: [255, 255, 255, 0.5]
      })
    })
  ], i.MultiPolygon = i.Polygon, i.LineString = [
    new Ne({
      stroke: new Rt({
        color: e,
        width: n + 2
      })
    }),
    new Ne({
      stroke: new Rt({
        color: t,
        width: n
      })
    })
  ], i.MultiLineString = i.LineString, i.Circle = i.Polygon.concat(i.LineString), i.Point = [
    new Ne({
      image: new Tn({
        radius: n * 2,
        fill: new vt({
          color: t
        }),
        stroke: new Rt({
          color: e,
          width: n / 2
        })
      }),
      zIndex: 1 / 0
    })
  ], i.MultiPoint = i.Point, i.GeometryCollection = i.Polygon.concat(
    i.LineString,
    i.Point
  ), i;
}
function rc(i) {
  return i.getGeometry();
}
const Dg = "#333";
class ja {
  /**
   * @param {Options} [options] Options.
   */
  constructor(e) {
    e = e || {}, this.font_ = e.font, this.rotation_ = e.rotation, this.rotateWithView_ = e.rotateWithView, this.keepUpright_ = e.keepUpright, this.scale_ = e.scale, this.scaleArray_ = qe(e.scale !== void 0 ? e.scale : 1), this.text_ = e.text, this.textAlign_ = e.textAlign, this.justify_ = e.justify, this.repeat_ = e.repeat, this.textBaseline_ = e.textBaseline, this.fill_ = e.fill !== void 0 ? e.fill : new vt({ color: Dg }), this.maxAngle_ = e.maxAngle !== void 0 ? e.maxAngle : Math.PI / 4, this.placement_ = e.placement !== void 0 ? e.placement : "point", this.overflow_ = !!e.overflow, this.stroke_ = e.stroke !== void 0 ? e.stroke : null, this.offsetX_ = e.offsetX !== void 0 ? e.offsetX : 0, this.offsetY_ = e.offsetY !== void 0 ? e.offsetY : 0, this.backgroundFill_ = e.backgroundFill ? e.backgroundFill : null, this.backgroundStroke_ = e.backgroundStroke ? e.backgroundStroke : null, this.padding_ = e.padding === void 0 ? null : e.padding, this.declutterMode_ = e.declutterMode;
  }
  /**
   * Clones the style.
   * @return {Text} The cloned style.
   * @api
   */
  clone() {
    const e = this.getScale();
    return new ja({
      font: this.getFont(),
      placement: this.getPlacement(),
      repeat: this.getRepeat(),
      maxAngle: this.getMaxAngle(),
      overflow: this.getOverflow(),
      rotation: this.getRotation(),
      rotateWithView: this.getRotateWithView(),
      keepUpright: this.getKeepUpright(),
      scale: Array.isArray(e) ? e.slice() : e,
      text: this.getText(),
      textAlign: this.getTextAlign(),
      justify: this.getJustify(),
      textBaseline: this.getTextBaseline(),
      fill: this.getFill() instanceof vt ? this.getFill().clone() : this.getFill(),
      stroke: this.getStroke() ? this.getStroke().clone() : void 0,
      offsetX: this.getOffsetX(),
      offsetY: this.getOffsetY(),
      backgroundFill: this.getBackgroundFill() ? this.getBackgroundFill().clone() : void 0,
      backgroundStroke: this.getBackgroundStroke() ? this.getBackgroundStroke().clone() : void 0,
      padding: this.getPadding() || void 0,
      declutterMode: this.getDeclutterMode()
    });
  }
  /**
   * Get the `overflow` configuration.
   * @return {boolean} Let text overflow the length of the path they follow.
   * @api
   */
  getOverflow() {
    return this.overflow_;
  }
  /**
   * Get the font name.
   * @return {string|undefined} Font.
   * @api
   */
  getFont() {
    return this.font_;
  }
  /**
   * Get the maximum angle between adjacent characters.
   * @return {number} Angle in radians.
   * @api
   */
  getMaxAngle() {
    return this.maxAngle_;
  }
  /**
   * Get the label placement.
   * @return {TextPlacement} Text placement.
   * @api
   */
  getPlacement() {
    return this.placement_;
  }
  /**
   * Get the repeat interval of the text.
   * @return {number|undefined} Repeat interval in pixels.
   * @api
   */
  getRepeat() {
    return this.repeat_;
  }
  /**
   * Get the x-offset for the text.
   * @return {number} Horizontal text offset.
   * @api
   */
  getOffsetX() {
    return this.offsetX_;
  }
  /**
   * Get the y-offset for the text.
   * @return {number} Vertical text offset.
   * @api
   */
  getOffsetY() {
    return this.offsetY_;
  }
  /**
   * Get the fill style for the text.
   * @return {import("./Fill.js").default|null} Fill style.
   * @api
   */
  getFill() {
    return this.fill_;
  }
  /**
   * Determine whether the text rotates with the map.
   * @return {boolean|undefined} Rotate with map.
   * @api
   */
  getRotateWithView() {
    return this.rotateWithView_;
  }
  /**
   * Determine whether the text can be rendered upside down.
   * @return {boolean|undefined} Keep text upright.
   * @api
   */
  getKeepUpright() {
    return this.keepUpright_;
  }
  /**
   * Get the text rotation.
   * @return {number|undefined} Rotation.
   * @api
   */
  getRotation() {
    return this.rotation_;
  }
  /**
   * Get the text scale.
   * @return {number|import("../size.js").Size|undefined} Scale.
   * @api
   */
  getScale() {
    return this.scale_;
  }
  /**
   * Get the symbolizer scale array.
   * @return {import("../size.js").Size} Scale array.
   */
  getScaleArray() {
    return this.scaleArray_;
  }
  /**
   * Get the stroke style for the text.
   * @return {import("./Stroke.js").default|null} Stroke style.
   * @api
   */
  getStroke() {
    return this.stroke_;
  }
  /**
   * Get the text to be rendered.
   * @return {string|Array<string>|undefined} Text.
   * @api
   */
  getText() {
    return this.text_;
  }
  /**
   * Get the text alignment.
   * @return {CanvasTextAlign|undefined} Text align.
   * @api
   */
  getTextAlign() {
    return this.textAlign_;
  }
  /**
   * Get the justification.
   * @return {TextJustify|undefined} Justification.
   * @api
   */
  getJustify() {
    return this.justify_;
  }
  /**
   * Get the text baseline.
   * @return {CanvasTextBaseline|undefined} Text baseline.
   * @api
   */
  getTextBaseline() {
    return this.textBaseline_;
  }
  /**
   * Get the background fill style for the text.
   * @return {import("./Fill.js").default|null} Fill style.
   * @api
   */
  getBackgroundFill() {
    return this.backgroundFill_;
  }
  /**
   * Get the background stroke style for the text.
   * @return {import("./Stroke.js").default|null} Stroke style.
   * @api
   */
  getBackgroundStroke() {
    return this.backgroundStroke_;
  }
  /**
   * Get the padding for the text.
   * @return {Array<number>|null} Padding.
   * @api
   */
  getPadding() {
    return this.padding_;
  }
  /**
   * Get the declutter mode of the shape
   * @return {import("./Style.js").DeclutterMode} Shape's declutter mode
   * @api
   */
  getDeclutterMode() {
    return this.declutterMode_;
  }
  /**
   * Set the `overflow` property.
   *
   * @param {boolean} overflow Let text overflow the path that it follows.
   * @api
   */
  setOverflow(e) {
    this.overflow_ = e;
  }
  /**
   * Set the font.
   *
   * @param {string|undefined} font Font.
   * @api
   */
  setFont(e) {
    this.font_ = e;
  }
  /**
   * Set the maximum angle between adjacent characters.
   *
   * @param {number} maxAngle Angle in radians.
   * @api
   */
  setMaxAngle(e) {
    this.maxAngle_ = e;
  }
  /**
   * Set the x offset.
   *
   * @param {number} offsetX Horizontal text offset.
   * @api
   */
  setOffsetX(e) {
    this.offsetX_ = e;
  }
  /**
   * Set the y offset.
   *
   * @param {number} offsetY Vertical text offset.
   * @api
   */
  setOffsetY(e) {
    this.offsetY_ = e;
  }
  /**
   * Set the text placement.
   *
   * @param {TextPlacement} placement Placement.
   * @api
   */
  setPlacement(e) {
    this.placement_ = e;
  }
  /**
   * Set the repeat interval of the text.
   * @param {number|undefined} [repeat] Repeat interval in pixels.
   * @api
   */
  setRepeat(e) {
    this.repeat_ = e;
  }
  /**
   * Set whether to rotate the text with the view.
   *
   * @param {boolean} rotateWithView Rotate with map.
   * @api
   */
  setRotateWithView(e) {
    this.rotateWithView_ = e;
  }
  /**
   * Set whether the text can be rendered upside down.
   *
   * @param {boolean} keepUpright Keep text upright.
   * @api
   */
  setKeepUpright(e) {
    this.keepUpright_ = e;
  }
  /**
   * Set the fill.
   *
   * @param {import("./Fill.js").default|null} fill Fill style.
   * @api
   */
  setFill(e) {
    this.fill_ = e;
  }
  /**
   * Set the rotation.
   *
   * @param {number|undefined} rotation Rotation.
   * @api
   */
  setRotation(e) {
    this.rotation_ = e;
  }
  /**
   * Set the scale.
   *
   * @param {number|import("../size.js").Size|undefined} scale Scale.
   * @api
   */
  setScale(e) {
    this.scale_ = e, this.scaleArray_ = qe(e !== void 0 ? e : 1);
  }
  /**
   * Set the stroke.
   *
   * @param {import("./Stroke.js").default|null} stroke Stroke style.
   * @api
   */
  setStroke(e) {
    this.stroke_ = e;
  }
  /**
   * Set the text.
   *
   * @param {string|Array<string>|undefined} text Text.
   * @api
   */
  setText(e) {
    this.text_ = e;
  }
  /**
   * Set the text alignment.
   *
   * @param {CanvasTextAlign|undefined} textAlign Text align.
   * @api
   */
  setTextAlign(e) {
    this.textAlign_ = e;
  }
  /**
   * Set the justification.
   *
   * @param {TextJustify|undefined} justify Justification.
   * @api
   */
  setJustify(e) {
    this.justify_ = e;
  }
  /**
   * Set the text baseline.
   *
   * @param {CanvasTextBaseline|undefined} textBaseline Text baseline.
   * @api
   */
  setTextBaseline(e) {
    this.textBaseline_ = e;
  }
  /**
   * Set the background fill.
   *
   * @param {import("./Fill.js").default|null} fill Fill style.
   * @api
   */
  setBackgroundFill(e) {
    this.backgroundFill_ = e;
  }
  /**
   * Set the background stroke.
   *
   * @param {import("./Stroke.js").default|null} stroke Stroke style.
   * @api
   */
  setBackgroundStroke(e) {
    this.backgroundStroke_ = e;
  }
  /**
   * Set the padding (`[top, right, bottom, left]`).
   *
   * @param {Array<number>|null} padding Padding.
   * @api
   */
  setPadding(e) {
    this.padding_ = e;
  }
}
const Og = "data:image/svg+xml,%3csvg%20width='86'%20height='84'%20viewBox='0%200%2086%2084'%20fill='none'%20xmlns='http://www.w3.org/2000/svg'%3e%3cg%20clip-path='url(%23clip0_3080_8764)'%3e%3cg%20filter='url(%23filter0_d_3080_8764)'%3e%3cpath%20d='M43.0003%207C29.1328%207%2017.917%2017.955%2017.917%2031.5C17.917%2049.875%2043.0003%2077%2043.0003%2077C43.0003%2077%2068.0837%2049.875%2068.0837%2031.5C68.0837%2017.955%2056.8678%207%2043.0003%207ZM43.0003%2040.25C38.0553%2040.25%2034.042%2036.33%2034.042%2031.5C34.042%2026.67%2038.0553%2022.75%2043.0003%2022.75C47.9453%2022.75%2051.9587%2026.67%2051.9587%2031.5C51.9587%2036.33%2047.9453%2040.25%2043.0003%2040.25Z'%20fill='%233E9FCC'/%3e%3c/g%3e%3ccircle%20cx='43'%20cy='32'%20r='10'%20fill='%23E9F8FF'/%3e%3c/g%3e%3cdefs%3e%3cfilter%20id='filter0_d_3080_8764'%20x='13.917'%20y='7'%20width='58.167'%20height='78'%20filterUnits='userSpaceOnUse'%20color-interpolation-filters='sRGB'%3e%3cfeFlood%20flood-opacity='0'%20result='BackgroundImageFix'/%3e%3cfeColorMatrix%20in='SourceAlpha'%20type='matrix'%20values='0%200%200%200%200%200%200%200%200%200%200%200%200%200%200%200%200%200%20127%200'%20result='hardAlpha'/%3e%3cfeOffset%20dy='4'/%3e%3cfeGaussianBlur%20stdDeviation='2'/%3e%3cfeComposite%20in2='hardAlpha'%20operator='out'/%3e%3cfeColorMatrix%20type='matrix'%20values='0%200%200%200%200%200%200%200%200%200%200%200%200%200%200%200%200%200%200.25%200'/%3e%3cfeBlend%20mode='normal'%20in2='BackgroundImageFix'%20result='effect1_dropShadow_3080_8764'/%3e%3cfeBlend%20mode='normal'%20in='SourceGraphic'%20in2='effect1_dropShadow_3080_8764'%20result='shape'/%3e%3c/filter%3e%3cclipPath%20id='clip0_3080_8764'%3e%3crect%20width='86'%20height='84'%20fill='white'/%3e%3c/clipPath%3e%3c/defs%3e%3c/svg%3e", jh = "data:image/svg+xml,%3csvg%20width='86'%20height='84'%20viewBox='0%200%2086%2084'%20fill='none'%20xmlns='http://www.w3.org/2000/svg'%3e%3cg%20clip-path='url(%23clip0_3080_8764)'%3e%3cg%20filter='url(%23filter0_d_3080_8764)'%3e%3cpath%20d='M43.0003%207C29.1328%207%2017.917%2017.955%2017.917%2031.5C17.917%2049.875%2043.0003%2077%2043.0003%2077C43.0003%2077%2068.0837%2049.875%2068.0837%2031.5C68.0837%2017.955%2056.8678%207%2043.0003%207ZM43.0003%2040.25C38.0553%2040.25%2034.042%2036.33%2034.042%2031.5C34.042%2026.67%2038.0553%2022.75%2043.0003%2022.75C47.9453%2022.75%2051.9587%2026.67%2051.9587%2031.5C51.9587%2036.33%2047.9453%2040.25%2043.0003%2040.25Z'%20fill='%2322C55E'/%3e%3c/g%3e%3ccircle%20cx='43'%20cy='32'%20r='10'%20fill='%23E9F8FF'/%3e%3c/g%3e%3cdefs%3e%3cfilter%20id='filter0_d_3080_8764'%20x='13.917'%20y='7'%20width='58.167'%20height='78'%20filterUnits='userSpaceOnUse'%20color-interpolation-filters='sRGB'%3e%3cfeFlood%20flood-opacity='0'%20result='BackgroundImageFix'/%3e%3cfeColorMatrix%20in='SourceAlpha'%20type='matrix'%20values='0%200%200%200%200%200%200%200%200%200%200%200%200%200%200%200%200%200%20127%200'%20result='hardAlpha'/%3e%3cfeOffset%20dy='4'/%3e%3cfeGaussianBlur%20stdDeviation='2'/%3e%3cfeComposite%20in2='hardAlpha'%20operator='out'/%3e%3cfeColorMatrix%20type='matrix'%20values='0%200%200%200%200%200%200%200%200%200%200%200%200%200%200%200%200%200%200.25%200'/%3e%3cfeBlend%20mode='normal'%20in2='BackgroundImageFix'%20result='effect1_dropShadow_3080_8764'/%3e%3cfeBlend%20mode='normal'%20in='SourceGraphic'%20in2='effect1_dropShadow_3080_8764'%20result='shape'/%3e%3c/filter%3e%3cclipPath%20id='clip0_3080_8764'%3e%3crect%20width='86'%20height='84'%20fill='white'/%3e%3c/clipPath%3e%3c/defs%3e%3c/svg%3e", $e = {
  /**
   * Triggered when an item is added to the collection.
   * @event module:ol/Collection.CollectionEvent#add
   * @api
   */
  ADD: "add",
  /**
   * Triggered when an item is removed from the collection.
   * @event module:ol/Collection.CollectionEvent#remove
   * @api
   */
  REMOVE: "remove"
}, oc = {
  LENGTH: "length"
};
class Hs extends At {
  /**
   * @param {import("./CollectionEventType.js").default} type Type.
   * @param {T} element Element.
   * @param {number} index The index of the added or removed element.
   */
  constructor(e, t, n) {
    super(e), this.element = t, this.index = n;
  }
}
class Ue extends Wt {
  /**
   * @param {Array<T>} [array] Array.
   * @param {Options} [options] Collection options.
   */
  constructor(e, t) {
    if (super(), this.on, this.once, this.un, t = t || {}, this.unique_ = !!t.unique, this.array_ = e ?? [], this.unique_)
      for (let n = 1, s = this.array_.length; n < s; ++n)
        this.assertUnique_(this.array_[n], n);
    this.updateLength_();
  }
  /**
   * Remove all elements from the collection.
   * @api
   */
  clear() {
    for (; this.getLength() > 0; )
      this.pop();
  }
  /**
   * Add elements to the collection.  This pushes each item in the provided array
   * to the end of the collection.
   * @param {!Array<T>} arr Array.
   * @return {Collection<T>} This collection.
   * @api
   */
  extend(e) {
    for (let t = 0, n = e.length; t < n; ++t)
      this.push(e[t]);
    return this;
  }
  /**
   * Iterate over each element, calling the provided callback.
   * @param {function(T, number, Array<T>): *} f The function to call
   *     for every element. This function takes 3 arguments (the element, the
   *     index and the array). The return value is ignored.
   * @api
   */
  forEach(e) {
    const t = this.array_;
    for (let n = 0, s = t.length; n < s; ++n)
      e(t[n], n, t);
  }
  /**
   * Get a reference to the underlying Array object. Warning: if the array
   * is mutated, no events will be dispatched by the collection, and the
   * collection's "length" property won't be in sync with the actual length
   * of the array.
   * @return {!Array<T>} Array.
   * @api
   */
  getArray() {
    return this.array_;
  }
  /**
   * Get the element at the provided index.
   * @param {number} index Index.
   * @return {T} Element.
   * @api
   */
  item(e) {
    return this.array_[e];
  }
  /**
   * Get the length of this collection.
   * @return {number} The length of the array.
   * @observable
   * @api
   */
  getLength() {
    return this.get(oc.LENGTH);
  }
  /**
   * Insert an element at the provided index.
   * @param {number} index Index.
   * @param {T} elem Element.
   * @api
   */
  insertAt(e, t) {
    if (e < 0 || e > this.getLength())
      throw new Error("Index out of bounds: " + e);
    this.unique_ && this.assertUnique_(t), this.array_.splice(e, 0, t), this.updateLength_(), this.dispatchEvent(
      new Hs($e.ADD, t, e)
    );
  }
  /**
   * Remove the last element of the collection and return it.
   * Return `undefined` if the collection is empty.
   * @return {T|undefined} Element.
   * @api
   */
  pop() {
    return this.removeAt(this.getLength() - 1);
  }
  /**
   * Insert the provided element at the end of the collection.
   * @param {T} elem Element.
   * @return {number} New length of the collection.
   * @api
   */
  push(e) {
    const t = this.getLength();
    return this.insertAt(t, e), this.getLength();
  }
  /**
   * Remove the first occurrence of an element from the collection.
   * @param {T} elem Element.
   * @return {T|undefined} The removed element or undefined if none found.
   * @api
   */
  remove(e) {
    const t = this.array_;
    for (let n = 0, s = t.length; n < s; ++n)
      if (t[n] === e)
        return this.removeAt(n);
  }
  /**
   * Remove the element at the provided index and return it.
   * Return `undefined` if the collection does not contain this index.
   * @param {number} index Index.
   * @return {T|undefined} Value.
   * @api
   */
  removeAt(e) {
    if (e < 0 || e >= this.getLength())
      return;
    const t = this.array_[e];
    return this.array_.splice(e, 1), this.updateLength_(), this.dispatchEvent(
      /** @type {CollectionEvent<T>} */
      new Hs($e.REMOVE, t, e)
    ), t;
  }
  /**
   * Set the element at the provided index.
   * @param {number} index Index.
   * @param {T} elem Element.
   * @api
   */
  setAt(e, t) {
    const n = this.getLength();
    if (e >= n) {
      this.insertAt(e, t);
      return;
    }
    if (e < 0)
      throw new Error("Index out of bounds: " + e);
    this.unique_ && this.assertUnique_(t, e);
    const s = this.array_[e];
    this.array_[e] = t, this.dispatchEvent(
      /** @type {CollectionEvent<T>} */
      new Hs($e.REMOVE, s, e)
    ), this.dispatchEvent(
      /** @type {CollectionEvent<T>} */
      new Hs($e.ADD, t, e)
    );
  }
  /**
   * @private
   */
  updateLength_() {
    this.set(oc.LENGTH, this.array_.length);
  }
  /**
   * @private
   * @param {T} elem Element.
   * @param {number} [except] Optional index to ignore.
   */
  assertUnique_(e, t) {
    const n = this.array_;
    for (let s = 0, r = n.length; s < r; ++s)
      if (n[s] === e && s !== t)
        throw new Error("Duplicate item added to a unique collection");
  }
}
class st extends Wt {
  /**
   * @param {Geometry|ObjectWithGeometry<Geometry>} [geometryOrProperties]
   *     You may pass a Geometry object directly, or an object literal containing
   *     properties. If you pass an object literal, you may include a Geometry
   *     associated with a `geometry` key.
   */
  constructor(e) {
    if (super(), this.on, this.once, this.un, this.id_ = void 0, this.geometryName_ = "geometry", this.style_ = null, this.styleFunction_ = void 0, this.geometryChangeKey_ = null, this.addChangeListener(this.geometryName_, this.handleGeometryChanged_), e)
      if (typeof /** @type {?} */
      e.getSimplifiedGeometry == "function") {
        const t = (
          /** @type {Geometry} */
          e
        );
        this.setGeometry(t);
      } else {
        const t = e;
        this.setProperties(t);
      }
  }
  /**
   * Clone this feature. If the original feature has a geometry it
   * is also cloned. The feature id is not set in the clone.
   * @return {Feature<Geometry>} The clone.
   * @api
   */
  clone() {
    const e = (
      /** @type {Feature<Geometry>} */
      new st(this.hasProperties() ? this.getProperties() : null)
    );
    e.setGeometryName(this.getGeometryName());
    const t = this.getGeometry();
    t && e.setGeometry(
      /** @type {Geometry} */
      t.clone()
    );
    const n = this.getStyle();
    return n && e.setStyle(n), e;
  }
  /**
   * Get the feature's default geometry.  A feature may have any number of named
   * geometries.  The "default" geometry (the one that is rendered by default) is
   * set when calling {@link module:ol/Feature~Feature#setGeometry}.
   * @return {Geometry|undefined} The default geometry for the feature.
   * @api
   * @observable
   */
  getGeometry() {
    return (
      /** @type {Geometry|undefined} */
      this.get(this.geometryName_)
    );
  }
  /**
   * Get the feature identifier.  This is a stable identifier for the feature and
   * is either set when reading data from a remote source or set explicitly by
   * calling {@link module:ol/Feature~Feature#setId}.
   * @return {number|string|undefined} Id.
   * @api
   */
  getId() {
    return this.id_;
  }
  /**
   * Get the name of the feature's default geometry.  By default, the default
   * geometry is named `geometry`.
   * @return {string} Get the property name associated with the default geometry
   *     for this feature.
   * @api
   */
  getGeometryName() {
    return this.geometryName_;
  }
  /**
   * Get the feature's style. Will return what was provided to the
   * {@link module:ol/Feature~Feature#setStyle} method.
   * @return {import("./style/Style.js").StyleLike|undefined} The feature style.
   * @api
   */
  getStyle() {
    return this.style_;
  }
  /**
   * Get the feature's style function.
   * @return {import("./style/Style.js").StyleFunction|undefined} Return a function
   * representing the current style of this feature.
   * @api
   */
  getStyleFunction() {
    return this.styleFunction_;
  }
  /**
   * @private
   */
  handleGeometryChange_() {
    this.changed();
  }
  /**
   * @private
   */
  handleGeometryChanged_() {
    this.geometryChangeKey_ && (ce(this.geometryChangeKey_), this.geometryChangeKey_ = null);
    const e = this.getGeometry();
    e && (this.geometryChangeKey_ = ne(
      e,
      Y.CHANGE,
      this.handleGeometryChange_,
      this
    )), this.changed();
  }
  /**
   * Set the default geometry for the feature.  This will update the property
   * with the name returned by {@link module:ol/Feature~Feature#getGeometryName}.
   * @param {Geometry|undefined} geometry The new geometry.
   * @api
   * @observable
   */
  setGeometry(e) {
    this.set(this.geometryName_, e);
  }
  /**
   * Set the style for the feature to override the layer style.  This can be a
   * single style object, an array of styles, or a function that takes a
   * resolution and returns an array of styles. To unset the feature style, call
   * `setStyle()` without arguments or a falsey value.
   * @param {import("./style/Style.js").StyleLike} [style] Style for this feature.
   * @api
   * @fires module:ol/events/Event~BaseEvent#event:change
   */
  setStyle(e) {
    this.style_ = e, this.styleFunction_ = e ? Ng(e) : void 0, this.changed();
  }
  /**
   * Set the feature id.  The feature id is considered stable and may be used when
   * requesting features or comparing identifiers returned from a remote source.
   * The feature id can be used with the
   * {@link module:ol/source/Vector~VectorSource#getFeatureById} method.
   * @param {number|string|undefined} id The feature id.
   * @api
   * @fires module:ol/events/Event~BaseEvent#event:change
   */
  setId(e) {
    this.id_ = e, this.changed();
  }
  /**
   * Set the property name to be used when getting the feature's default geometry.
   * When calling {@link module:ol/Feature~Feature#getGeometry}, the value of the property with
   * this name will be returned.
   * @param {string} name The property name of the default geometry.
   * @api
   */
  setGeometryName(e) {
    this.removeChangeListener(this.geometryName_, this.handleGeometryChanged_), this.geometryName_ = e, this.addChangeListener(this.geometryName_, this.handleGeometryChanged_), this.handleGeometryChanged_();
  }
}
function Ng(i) {
  if (typeof i == "function")
    return i;
  let e;
  return Array.isArray(i) ? e = i : (ie(
    typeof /** @type {?} */
    i.getZIndex == "function",
    "Expected an `ol/style/Style` or an array of `ol/style/Style.js`"
  ), e = [
    /** @type {import("./style/Style.js").default} */
    i
  ]), function() {
    return e;
  };
}
const Oe = {
  /**
   * Triggered before a layer is rendered.
   * @event module:ol/render/Event~RenderEvent#prerender
   * @api
   */
  PRERENDER: "prerender",
  /**
   * Triggered after a layer is rendered.
   * @event module:ol/render/Event~RenderEvent#postrender
   * @api
   */
  POSTRENDER: "postrender",
  /**
   * Triggered before layers are composed.  When dispatched by the map, the event object will not have
   * a `context` set.  When dispatched by a layer, the event object will have a `context` set.  Only
   * WebGL layers currently dispatch this event.
   * @event module:ol/render/Event~RenderEvent#precompose
   * @api
   */
  PRECOMPOSE: "precompose",
  /**
   * Triggered after layers are composed.  When dispatched by the map, the event object will not have
   * a `context` set.  When dispatched by a layer, the event object will have a `context` set.  Only
   * WebGL layers currently dispatch this event.
   * @event module:ol/render/Event~RenderEvent#postcompose
   * @api
   */
  POSTCOMPOSE: "postcompose",
  /**
   * Triggered when rendering is complete, i.e. all sources and tiles have
   * finished loading for the current viewport, and all tiles are faded in.
   * The event object will not have a `context` set.
   * @event module:ol/render/Event~RenderEvent#rendercomplete
   * @api
   */
  RENDERCOMPLETE: "rendercomplete"
};
class Yh {
  /**
   * Render a geometry with a custom renderer.
   *
   * @param {import("../geom/SimpleGeometry.js").default} geometry Geometry.
   * @param {import("../Feature.js").FeatureLike} feature Feature.
   * @param {Function} renderer Renderer.
   * @param {Function} hitDetectionRenderer Renderer.
   * @param {number} [index] Render order index.
   */
  drawCustom(e, t, n, s, r) {
  }
  /**
   * Render a geometry.
   *
   * @param {import("../geom/Geometry.js").default} geometry The geometry to render.
   */
  drawGeometry(e) {
  }
  /**
   * Set the rendering style.
   *
   * @param {import("../style/Style.js").default} style The rendering style.
   */
  setStyle(e) {
  }
  /**
   * @param {import("../geom/Circle.js").default} circleGeometry Circle geometry.
   * @param {import("../Feature.js").default} feature Feature.
   * @param {number} [index] Render order index.
   */
  drawCircle(e, t, n) {
  }
  /**
   * @param {import("../Feature.js").default} feature Feature.
   * @param {import("../style/Style.js").default} style Style.
   * @param {number} [index] Render order index.
   */
  drawFeature(e, t, n) {
  }
  /**
   * @param {import("../geom/GeometryCollection.js").default} geometryCollectionGeometry Geometry collection.
   * @param {import("../Feature.js").default} feature Feature.
   * @param {number} [index] Render order index.
   */
  drawGeometryCollection(e, t, n) {
  }
  /**
   * @param {import("../geom/LineString.js").default|import("./Feature.js").default} lineStringGeometry Line string geometry.
   * @param {import("../Feature.js").FeatureLike} feature Feature.
   * @param {number} [index] Render order index.
   */
  drawLineString(e, t, n) {
  }
  /**
   * @param {import("../geom/MultiLineString.js").default|import("./Feature.js").default} multiLineStringGeometry MultiLineString geometry.
   * @param {import("../Feature.js").FeatureLike} feature Feature.
   * @param {number} [index] Render order index.
   */
  drawMultiLineString(e, t, n) {
  }
  /**
   * @param {import("../geom/MultiPoint.js").default|import("./Feature.js").default} multiPointGeometry MultiPoint geometry.
   * @param {import("../Feature.js").FeatureLike} feature Feature.
   * @param {number} [index] Render order index.
   */
  drawMultiPoint(e, t, n) {
  }
  /**
   * @param {import("../geom/MultiPolygon.js").default} multiPolygonGeometry MultiPolygon geometry.
   * @param {import("../Feature.js").FeatureLike} feature Feature.
   * @param {number} [index] Render order index.
   */
  drawMultiPolygon(e, t, n) {
  }
  /**
   * @param {import("../geom/Point.js").default|import("./Feature.js").default} pointGeometry Point geometry.
   * @param {import("../Feature.js").FeatureLike} feature Feature.
   * @param {number} [index] Render order index.
   */
  drawPoint(e, t, n) {
  }
  /**
   * @param {import("../geom/Polygon.js").default|import("./Feature.js").default} polygonGeometry Polygon geometry.
   * @param {import("../Feature.js").FeatureLike} feature Feature.
   * @param {number} [index] Render order index.
   */
  drawPolygon(e, t, n) {
  }
  /**
   * @param {import("../geom/SimpleGeometry.js").default|import("./Feature.js").default} geometry Geometry.
   * @param {import("../Feature.js").FeatureLike} feature Feature.
   * @param {number} [index] Render order index.
   */
  drawText(e, t, n) {
  }
  /**
   * @param {import("../style/Fill.js").default} fillStyle Fill style.
   * @param {import("../style/Stroke.js").default} strokeStyle Stroke style.
   */
  setFillStrokeStyle(e, t) {
  }
  /**
   * @param {import("../style/Image.js").default} imageStyle Image style.
   * @param {import("../render/canvas.js").DeclutterImageWithText} [declutterImageWithText] Shared data for combined decluttering with a text style.
   */
  setImageStyle(e, t) {
  }
  /**
   * @param {import("../style/Text.js").default} textStyle Text style.
   * @param {import("../render/canvas.js").DeclutterImageWithText} [declutterImageWithText] Shared data for combined decluttering with an image style.
   */
  setTextStyle(e, t) {
  }
}
class kg extends Yh {
  /**
   * @param {CanvasRenderingContext2D|OffscreenCanvasRenderingContext2D} context Context.
   * @param {number} pixelRatio Pixel ratio.
   * @param {import("../../extent.js").Extent} extent Extent.
   * @param {import("../../transform.js").Transform} transform Transform.
   * @param {number} viewRotation View rotation.
   * @param {number} [squaredTolerance] Optional squared tolerance for simplification.
   * @param {import("../../proj.js").TransformFunction} [userTransform] Transform from user to view projection.
   */
  constructor(e, t, n, s, r, o, a) {
    super(), this.context_ = e, this.pixelRatio_ = t, this.extent_ = n, this.transform_ = s, this.transformRotation_ = s ? As(Math.atan2(s[1], s[0]), 10) : 0, this.viewRotation_ = r, this.squaredTolerance_ = o, this.userTransform_ = a, this.contextFillState_ = null, this.contextStrokeState_ = null, this.contextTextState_ = null, this.fillState_ = null, this.strokeState_ = null, this.image_ = null, this.imageAnchorX_ = 0, this.imageAnchorY_ = 0, this.imageHeight_ = 0, this.imageOpacity_ = 0, this.imageOriginX_ = 0, this.imageOriginY_ = 0, this.imageRotateWithView_ = !1, this.imageRotation_ = 0, this.imageScale_ = [0, 0], this.imageWidth_ = 0, this.text_ = "", this.textOffsetX_ = 0, this.textOffsetY_ = 0, this.textRotateWithView_ = !1, this.textRotation_ = 0, this.textScale_ = [0, 0], this.textFillState_ = null, this.textStrokeState_ = null, this.textState_ = null, this.pixelCoordinates_ = [], this.tmpLocalTransform_ = we();
  }
  /**
   * @param {Array<number>} flatCoordinates Flat coordinates.
   * @param {number} offset Offset.
   * @param {number} end End.
   * @param {number} stride Stride.
   * @private
   */
  drawImages_(e, t, n, s) {
    if (!this.image_)
      return;
    const r = Ut(
      e,
      t,
      n,
      s,
      this.transform_,
      this.pixelCoordinates_
    ), o = this.context_, a = this.tmpLocalTransform_, l = o.globalAlpha;
    this.imageOpacity_ != 1 && (o.globalAlpha = l * this.imageOpacity_);
    let c = this.imageRotation_;
    this.transformRotation_ === 0 && (c -= this.viewRotation_), this.imageRotateWithView_ && (c += this.viewRotation_);
    for (let h = 0, u = r.length; h < u; h += 2) {
      const d = r[h] - this.imageAnchorX_, f = r[h + 1] - this.imageAnchorY_;
      if (c !== 0 || this.imageScale_[0] != 1 || this.imageScale_[1] != 1) {
        const g = d + this.imageAnchorX_, m = f + this.imageAnchorY_;
        wt(
          a,
          g,
          m,
          1,
          1,
          c,
          -g,
          -m
        ), o.save(), o.transform.apply(o, a), o.translate(g, m), o.scale(this.imageScale_[0], this.imageScale_[1]), o.drawImage(
          this.image_,
          this.imageOriginX_,
          this.imageOriginY_,
          this.imageWidth_,
          this.imageHeight_,
          -this.imageAnchorX_,
          -this.imageAnchorY_,
          this.imageWidth_,
          this.imageHeight_
        ), o.restore();
      } else
        o.drawImage(
          this.image_,
          this.imageOriginX_,
          this.imageOriginY_,
          this.imageWidth_,
          this.imageHeight_,
          d,
          f,
          this.imageWidth_,
          this.imageHeight_
        );
    }
    this.imageOpacity_ != 1 && (o.globalAlpha = l);
  }
  /**
   * @param {Array<number>} flatCoordinates Flat coordinates.
   * @param {number} offset Offset.
   * @param {number} end End.
   * @param {number} stride Stride.
   * @private
   */
  drawText_(e, t, n, s) {
    if (!this.textState_ || this.text_ === "")
      return;
    this.textFillState_ && this.setContextFillState_(this.textFillState_), this.textStrokeState_ && this.setContextStrokeState_(this.textStrokeState_), this.setContextTextState_(this.textState_);
    const r = Ut(
      e,
      t,
      n,
      s,
      this.transform_,
      this.pixelCoordinates_
    ), o = this.context_;
    let a = this.textRotation_;
    for (this.transformRotation_ === 0 && (a -= this.viewRotation_), this.textRotateWithView_ && (a += this.viewRotation_); t < n; t += s) {
      const l = r[t] + this.textOffsetX_, c = r[t + 1] + this.textOffsetY_;
      a !== 0 || this.textScale_[0] != 1 || this.textScale_[1] != 1 ? (o.save(), o.translate(l - this.textOffsetX_, c - this.textOffsetY_), o.rotate(a), o.translate(this.textOffsetX_, this.textOffsetY_), o.scale(this.textScale_[0], this.textScale_[1]), this.textStrokeState_ && o.strokeText(this.text_, 0, 0), this.textFillState_ && o.fillText(this.text_, 0, 0), o.restore()) : (this.textStrokeState_ && o.strokeText(this.text_, l, c), this.textFillState_ && o.fillText(this.text_, l, c));
    }
  }
  /**
   * @param {Array<number>} flatCoordinates Flat coordinates.
   * @param {number} offset Offset.
   * @param {number} end End.
   * @param {number} stride Stride.
   * @param {boolean} close Close.
   * @private
   * @return {number} end End.
   */
  moveToLineTo_(e, t, n, s, r) {
    const o = this.context_, a = Ut(
      e,
      t,
      n,
      s,
      this.transform_,
      this.pixelCoordinates_
    );
    o.moveTo(a[0], a[1]);
    let l = a.length;
    r && (l -= 2);
    for (let c = 2; c < l; c += 2)
      o.lineTo(a[c], a[c + 1]);
    return r && o.closePath(), n;
  }
  /**
   * @param {Array<number>} flatCoordinates Flat coordinates.
   * @param {number} offset Offset.
   * @param {Array<number>} ends Ends.
   * @param {number} stride Stride.
   * @private
   * @return {number} End.
   */
  drawRings_(e, t, n, s) {
    for (let r = 0, o = n.length; r < o; ++r)
      t = this.moveToLineTo_(
        e,
        t,
        n[r],
        s,
        !0
      );
    return t;
  }
  /**
   * Render a circle geometry into the canvas.  Rendering is immediate and uses
   * the current fill and stroke styles.
   *
   * @param {import("../../geom/Circle.js").default} geometry Circle geometry.
   * @api
   * @override
   */
  drawCircle(e) {
    if (this.squaredTolerance_ && (e = /** @type {import("../../geom/Circle.js").default} */
    e.simplifyTransformed(
      this.squaredTolerance_,
      this.userTransform_
    )), !!Ke(this.extent_, e.getExtent())) {
      if (this.fillState_ || this.strokeState_) {
        this.fillState_ && this.setContextFillState_(this.fillState_), this.strokeState_ && this.setContextStrokeState_(this.strokeState_);
        const t = Vf(
          e,
          this.transform_,
          this.pixelCoordinates_
        ), n = t[2] - t[0], s = t[3] - t[1], r = Math.sqrt(n * n + s * s), o = this.context_;
        o.beginPath(), o.arc(
          t[0],
          t[1],
          r,
          0,
          2 * Math.PI
        ), this.fillState_ && o.fill(), this.strokeState_ && o.stroke();
      }
      this.text_ !== "" && this.drawText_(e.getCenter(), 0, 2, 2);
    }
  }
  /**
   * Set the rendering style.  Note that since this is an immediate rendering API,
   * any `zIndex` on the provided style will be ignored.
   *
   * @param {import("../../style/Style.js").default} style The rendering style.
   * @api
   * @override
   */
  setStyle(e) {
    this.setFillStrokeStyle(e.getFill(), e.getStroke()), this.setImageStyle(e.getImage()), this.setTextStyle(e.getText());
  }
  /**
   * @param {import("../../transform.js").Transform} transform Transform.
   */
  setTransform(e) {
    this.transform_ = e;
  }
  /**
   * Render a geometry into the canvas.  Call
   * {@link module:ol/render/canvas/Immediate~CanvasImmediateRenderer#setStyle renderer.setStyle()} first to set the rendering style.
   *
   * @param {import("../../geom/Geometry.js").default|import("../Feature.js").default} geometry The geometry to render.
   * @api
   * @override
   */
  drawGeometry(e) {
    switch (e.getType()) {
      case "Point":
        this.drawPoint(
          /** @type {import("../../geom/Point.js").default} */
          e
        );
        break;
      case "LineString":
        this.drawLineString(
          /** @type {import("../../geom/LineString.js").default} */
          e
        );
        break;
      case "Polygon":
        this.drawPolygon(
          /** @type {import("../../geom/Polygon.js").default} */
          e
        );
        break;
      case "MultiPoint":
        this.drawMultiPoint(
          /** @type {import("../../geom/MultiPoint.js").default} */
          e
        );
        break;
      case "MultiLineString":
        this.drawMultiLineString(
          /** @type {import("../../geom/MultiLineString.js").default} */
          e
        );
        break;
      case "MultiPolygon":
        this.drawMultiPolygon(
          /** @type {import("../../geom/MultiPolygon.js").default} */
          e
        );
        break;
      case "GeometryCollection":
        this.drawGeometryCollection(
          /** @type {import("../../geom/GeometryCollection.js").default} */
          e
        );
        break;
      case "Circle":
        this.drawCircle(
          /** @type {import("../../geom/Circle.js").default} */
          e
        );
        break;
    }
  }
  /**
   * Render a feature into the canvas.  Note that any `zIndex` on the provided
   * style will be ignored - features are rendered immediately in the order that
   * this method is called.  If you need `zIndex` support, you should be using an
   * {@link module:ol/layer/Vector~VectorLayer} instead.
   *
   * @param {import("../../Feature.js").default} feature Feature.
   * @param {import("../../style/Style.js").default} style Style.
   * @api
   * @override
   */
  drawFeature(e, t) {
    const n = t.getGeometryFunction()(e);
    n && (this.setStyle(t), this.drawGeometry(n));
  }
  /**
   * Render a GeometryCollection to the canvas.  Rendering is immediate and
   * uses the current styles appropriate for each geometry in the collection.
   *
   * @param {import("../../geom/GeometryCollection.js").default} geometry Geometry collection.
   * @override
   */
  drawGeometryCollection(e) {
    const t = e.getGeometriesArray();
    for (let n = 0, s = t.length; n < s; ++n)
      this.drawGeometry(t[n]);
  }
  /**
   * Render a Point geometry into the canvas.  Rendering is immediate and uses
   * the current style.
   *
   * @param {import("../../geom/Point.js").default|import("../Feature.js").default} geometry Point geometry.
   * @override
   */
  drawPoint(e) {
    this.squaredTolerance_ && (e = /** @type {import("../../geom/Point.js").default} */
    e.simplifyTransformed(
      this.squaredTolerance_,
      this.userTransform_
    ));
    const t = e.getFlatCoordinates(), n = e.getStride();
    this.image_ && this.drawImages_(t, 0, t.length, n), this.text_ !== "" && this.drawText_(t, 0, t.length, n);
  }
  /**
   * Render a MultiPoint geometry  into the canvas.  Rendering is immediate and
   * uses the current style.
   *
   * @param {import("../../geom/MultiPoint.js").default|import("../Feature.js").default} geometry MultiPoint geometry.
   * @override
   */
  drawMultiPoint(e) {
    this.squaredTolerance_ && (e = /** @type {import("../../geom/MultiPoint.js").default} */
    e.simplifyTransformed(
      this.squaredTolerance_,
      this.userTransform_
    ));
    const t = e.getFlatCoordinates(), n = e.getStride();
    this.image_ && this.drawImages_(t, 0, t.length, n), this.text_ !== "" && this.drawText_(t, 0, t.length, n);
  }
  /**
   * Render a LineString into the canvas.  Rendering is immediate and uses
   * the current style.
   *
   * @param {import("../../geom/LineString.js").default|import("../Feature.js").default} geometry LineString geometry.
   * @override
   */
  drawLineString(e) {
    if (this.squaredTolerance_ && (e = /** @type {import("../../geom/LineString.js").default} */
    e.simplifyTransformed(
      this.squaredTolerance_,
      this.userTransform_
    )), !!Ke(this.extent_, e.getExtent())) {
      if (this.strokeState_) {
        this.setContextStrokeState_(this.strokeState_);
        const t = this.context_, n = e.getFlatCoordinates();
        t.beginPath(), this.moveToLineTo_(
          n,
          0,
          n.length,
          e.getStride(),
          !1
        ), t.stroke();
      }
      if (this.text_ !== "") {
        const t = e.getFlatMidpoint();
        this.drawText_(t, 0, 2, 2);
      }
    }
  }
  /**
   * Render a MultiLineString geometry into the canvas.  Rendering is immediate
   * and uses the current style.
   *
   * @param {import("../../geom/MultiLineString.js").default|import("../Feature.js").default} geometry MultiLineString geometry.
   * @override
   */
  drawMultiLineString(e) {
    this.squaredTolerance_ && (e = /** @type {import("../../geom/MultiLineString.js").default} */
    e.simplifyTransformed(
      this.squaredTolerance_,
      this.userTransform_
    ));
    const t = e.getExtent();
    if (Ke(this.extent_, t)) {
      if (this.strokeState_) {
        this.setContextStrokeState_(this.strokeState_);
        const n = this.context_, s = e.getFlatCoordinates();
        let r = 0;
        const o = (
          /** @type {Array<number>} */
          e.getEnds()
        ), a = e.getStride();
        n.beginPath();
        for (let l = 0, c = o.length; l < c; ++l)
          r = this.moveToLineTo_(
            s,
            r,
            o[l],
            a,
            !1
          );
        n.stroke();
      }
      if (this.text_ !== "") {
        const n = e.getFlatMidpoints();
        this.drawText_(n, 0, n.length, 2);
      }
    }
  }
  /**
   * Render a Polygon geometry into the canvas.  Rendering is immediate and uses
   * the current style.
   *
   * @param {import("../../geom/Polygon.js").default|import("../Feature.js").default} geometry Polygon geometry.
   * @override
   */
  drawPolygon(e) {
    if (this.squaredTolerance_ && (e = /** @type {import("../../geom/Polygon.js").default} */
    e.simplifyTransformed(
      this.squaredTolerance_,
      this.userTransform_
    )), !!Ke(this.extent_, e.getExtent())) {
      if (this.strokeState_ || this.fillState_) {
        this.fillState_ && this.setContextFillState_(this.fillState_), this.strokeState_ && this.setContextStrokeState_(this.strokeState_);
        const t = this.context_;
        t.beginPath(), this.drawRings_(
          e.getOrientedFlatCoordinates(),
          0,
          /** @type {Array<number>} */
          e.getEnds(),
          e.getStride()
        ), this.fillState_ && t.fill(), this.strokeState_ && t.stroke();
      }
      if (this.text_ !== "") {
        const t = e.getFlatInteriorPoint();
        this.drawText_(t, 0, 2, 2);
      }
    }
  }
  /**
   * Render MultiPolygon geometry into the canvas.  Rendering is immediate and
   * uses the current style.
   * @param {import("../../geom/MultiPolygon.js").default} geometry MultiPolygon geometry.
   * @override
   */
  drawMultiPolygon(e) {
    if (this.squaredTolerance_ && (e = /** @type {import("../../geom/MultiPolygon.js").default} */
    e.simplifyTransformed(
      this.squaredTolerance_,
      this.userTransform_
    )), !!Ke(this.extent_, e.getExtent())) {
      if (this.strokeState_ || this.fillState_) {
        this.fillState_ && this.setContextFillState_(this.fillState_), this.strokeState_ && this.setContextStrokeState_(this.strokeState_);
        const t = this.context_, n = e.getOrientedFlatCoordinates();
        let s = 0;
        const r = e.getEndss(), o = e.getStride();
        t.beginPath();
        for (let a = 0, l = r.length; a < l; ++a) {
          const c = r[a];
          s = this.drawRings_(n, s, c, o);
        }
        this.fillState_ && t.fill(), this.strokeState_ && t.stroke();
      }
      if (this.text_ !== "") {
        const t = e.getFlatInteriorPoints();
        this.drawText_(t, 0, t.length, 2);
      }
    }
  }
  /**
   * @param {import("../canvas.js").FillState} fillState Fill state.
   * @private
   */
  setContextFillState_(e) {
    const t = this.context_, n = this.contextFillState_;
    n ? n.fillStyle != e.fillStyle && (n.fillStyle = e.fillStyle, t.fillStyle = e.fillStyle) : (t.fillStyle = e.fillStyle, this.contextFillState_ = {
      fillStyle: e.fillStyle
    });
  }
  /**
   * @param {import("../canvas.js").StrokeState} strokeState Stroke state.
   * @private
   */
  setContextStrokeState_(e) {
    const t = this.context_, n = this.contextStrokeState_;
    n ? (n.lineCap != e.lineCap && (n.lineCap = e.lineCap, t.lineCap = e.lineCap), $t(n.lineDash, e.lineDash) || t.setLineDash(
      n.lineDash = e.lineDash
    ), n.lineDashOffset != e.lineDashOffset && (n.lineDashOffset = e.lineDashOffset, t.lineDashOffset = e.lineDashOffset), n.lineJoin != e.lineJoin && (n.lineJoin = e.lineJoin, t.lineJoin = e.lineJoin), n.lineWidth != e.lineWidth && (n.lineWidth = e.lineWidth, t.lineWidth = e.lineWidth), n.miterLimit != e.miterLimit && (n.miterLimit = e.miterLimit, t.miterLimit = e.miterLimit), n.strokeStyle != e.strokeStyle && (n.strokeStyle = e.strokeStyle, t.strokeStyle = e.strokeStyle)) : (t.lineCap = e.lineCap, t.setLineDash(e.lineDash), t.lineDashOffset = e.lineDashOffset, t.lineJoin = e.lineJoin, t.lineWidth = e.lineWidth, t.miterLimit = e.miterLimit, t.strokeStyle = e.strokeStyle, this.contextStrokeState_ = {
      lineCap: e.lineCap,
      lineDash: e.lineDash,
      lineDashOffset: e.lineDashOffset,
      lineJoin: e.lineJoin,
      lineWidth: e.lineWidth,
      miterLimit: e.miterLimit,
      strokeStyle: e.strokeStyle
    });
  }
  /**
   * @param {import("../canvas.js").TextState} textState Text state.
   * @private
   */
  setContextTextState_(e) {
    const t = this.context_, n = this.contextTextState_, s = e.textAlign ? e.textAlign : Es;
    n ? (n.font != e.font && (n.font = e.font, t.font = e.font), n.textAlign != s && (n.textAlign = s, t.textAlign = s), n.textBaseline != e.textBaseline && (n.textBaseline = e.textBaseline, t.textBaseline = e.textBaseline)) : (t.font = e.font, t.textAlign = s, t.textBaseline = e.textBaseline, this.contextTextState_ = {
      font: e.font,
      textAlign: s,
      textBaseline: e.textBaseline
    });
  }
  /**
   * Set the fill and stroke style for subsequent draw operations.  To clear
   * either fill or stroke styles, pass null for the appropriate parameter.
   *
   * @param {import("../../style/Fill.js").default} fillStyle Fill style.
   * @param {import("../../style/Stroke.js").default} strokeStyle Stroke style.
   * @override
   */
  setFillStrokeStyle(e, t) {
    if (!e)
      this.fillState_ = null;
    else {
      const n = e.getColor();
      this.fillState_ = {
        fillStyle: kt(
          n || et
        )
      };
    }
    if (!t)
      this.strokeState_ = null;
    else {
      const n = t.getColor(), s = t.getLineCap(), r = t.getLineDash(), o = t.getLineDashOffset(), a = t.getLineJoin(), l = t.getWidth(), c = t.getMiterLimit(), h = r || sn;
      this.strokeState_ = {
        lineCap: s !== void 0 ? s : Ai,
        lineDash: this.pixelRatio_ === 1 ? h : h.map((u) => u * this.pixelRatio_),
        lineDashOffset: (o || rn) * this.pixelRatio_,
        lineJoin: a !== void 0 ? a : Fi,
        lineWidth: (l !== void 0 ? l : vs) * this.pixelRatio_,
        miterLimit: c !== void 0 ? c : ys,
        strokeStyle: kt(
          n || xs
        )
      };
    }
  }
  /**
   * Set the image style for subsequent draw operations.  Pass null to remove
   * the image style.
   *
   * @param {import("../../style/Image.js").default} imageStyle Image style.
   * @override
   */
  setImageStyle(e) {
    let t;
    if (!e || !(t = e.getSize())) {
      this.image_ = null;
      return;
    }
    const n = e.getPixelRatio(this.pixelRatio_), s = e.getAnchor(), r = e.getOrigin();
    this.image_ = e.getImage(this.pixelRatio_), this.imageAnchorX_ = s[0] * n, this.imageAnchorY_ = s[1] * n, this.imageHeight_ = t[1] * n, this.imageOpacity_ = e.getOpacity(), this.imageOriginX_ = r[0], this.imageOriginY_ = r[1], this.imageRotateWithView_ = e.getRotateWithView(), this.imageRotation_ = e.getRotation();
    const o = e.getScaleArray();
    this.imageScale_ = [
      o[0] * this.pixelRatio_ / n,
      o[1] * this.pixelRatio_ / n
    ], this.imageWidth_ = t[0] * n;
  }
  /**
   * Set the text style for subsequent draw operations.  Pass null to
   * remove the text style.
   *
   * @param {import("../../style/Text.js").default} textStyle Text style.
   * @override
   */
  setTextStyle(e) {
    if (!e)
      this.text_ = "";
    else {
      const t = e.getFill();
      if (!t)
        this.textFillState_ = null;
      else {
        const f = t.getColor();
        this.textFillState_ = {
          fillStyle: kt(
            f || et
          )
        };
      }
      const n = e.getStroke();
      if (!n)
        this.textStrokeState_ = null;
      else {
        const f = n.getColor(), g = n.getLineCap(), m = n.getLineDash(), _ = n.getLineDashOffset(), p = n.getLineJoin(), x = n.getWidth(), v = n.getMiterLimit();
        this.textStrokeState_ = {
          lineCap: g !== void 0 ? g : Ai,
          lineDash: m || sn,
          lineDashOffset: _ || rn,
          lineJoin: p !== void 0 ? p : Fi,
          lineWidth: x !== void 0 ? x : vs,
          miterLimit: v !== void 0 ? v : ys,
          strokeStyle: kt(
            f || xs
          )
        };
      }
      const s = e.getFont(), r = e.getOffsetX(), o = e.getOffsetY(), a = e.getRotateWithView(), l = e.getRotation(), c = e.getScaleArray(), h = e.getText(), u = e.getTextAlign(), d = e.getTextBaseline();
      this.textState_ = {
        font: s !== void 0 ? s : $h,
        textAlign: u !== void 0 ? u : Es,
        textBaseline: d !== void 0 ? d : vr
      }, this.text_ = h !== void 0 ? Array.isArray(h) ? h.reduce((f, g, m) => f += m % 2 ? " " : g, "") : h : "", this.textOffsetX_ = r !== void 0 ? this.pixelRatio_ * r : 0, this.textOffsetY_ = o !== void 0 ? this.pixelRatio_ * o : 0, this.textRotateWithView_ = a !== void 0 ? a : !1, this.textRotation_ = l !== void 0 ? l : 0, this.textScale_ = [
        this.pixelRatio_ * c[0],
        this.pixelRatio_ * c[1]
      ];
    }
  }
}
const Gg = 0.5, Zh = {
  Point: jg,
  LineString: Wg,
  Polygon: Zg,
  MultiPoint: Yg,
  MultiLineString: Vg,
  MultiPolygon: Xg,
  GeometryCollection: $g,
  Circle: Ug
};
function Bg(i, e) {
  return parseInt(z(i), 10) - parseInt(z(e), 10);
}
function ac(i, e) {
  const t = Kh(i, e);
  return t * t;
}
function Kh(i, e) {
  return Gg * i / e;
}
function Ug(i, e, t, n, s) {
  const r = t.getFill(), o = t.getStroke();
  if (r || o) {
    const l = i.getBuilder(t.getZIndex(), "Circle");
    l.setFillStrokeStyle(r, o), l.drawCircle(e, n, s);
  }
  const a = t.getText();
  if (a && a.getText()) {
    const l = i.getBuilder(t.getZIndex(), "Text");
    l.setTextStyle(a), l.drawText(e, n);
  }
}
function lc(i, e, t, n, s, r, o, a) {
  const l = [], c = t.getImage();
  if (c) {
    let d = !0;
    const f = c.getImageState();
    f == q.LOADED || f == q.ERROR ? d = !1 : f == q.IDLE && c.load(), d && l.push(c.ready());
  }
  const h = t.getFill();
  h && h.loading() && l.push(h.ready());
  const u = l.length > 0;
  return u && Promise.all(l).then(() => s(null)), zg(
    i,
    e,
    t,
    n,
    r,
    o,
    a
  ), u;
}
function zg(i, e, t, n, s, r, o) {
  const a = t.getGeometryFunction()(e);
  if (!a)
    return;
  const l = a.simplifyTransformed(
    n,
    s
  );
  if (t.getRenderer())
    Hh(i, l, t, e, o);
  else {
    const h = Zh[l.getType()];
    h(
      i,
      l,
      t,
      e,
      o,
      r
    );
  }
}
function Hh(i, e, t, n, s) {
  if (e.getType() == "GeometryCollection") {
    const o = (
      /** @type {import("../geom/GeometryCollection.js").default} */
      e.getGeometries()
    );
    for (let a = 0, l = o.length; a < l; ++a)
      Hh(i, o[a], t, n, s);
    return;
  }
  i.getBuilder(t.getZIndex(), "Default").drawCustom(
    /** @type {import("../geom/SimpleGeometry.js").default} */
    e,
    n,
    t.getRenderer(),
    t.getHitDetectionRenderer(),
    s
  );
}
function $g(i, e, t, n, s, r) {
  const o = e.getGeometriesArray();
  let a, l;
  for (a = 0, l = o.length; a < l; ++a) {
    const c = Zh[o[a].getType()];
    c(
      i,
      o[a],
      t,
      n,
      s,
      r
    );
  }
}
function Wg(i, e, t, n, s) {
  const r = t.getStroke();
  if (r) {
    const a = i.getBuilder(
      t.getZIndex(),
      "LineString"
    );
    a.setFillStrokeStyle(null, r), a.drawLineString(e, n, s);
  }
  const o = t.getText();
  if (o && o.getText()) {
    const a = i.getBuilder(t.getZIndex(), "Text");
    a.setTextStyle(o), a.drawText(e, n, s);
  }
}
function Vg(i, e, t, n, s) {
  const r = t.getStroke();
  if (r) {
    const a = i.getBuilder(
      t.getZIndex(),
      "LineString"
    );
    a.setFillStrokeStyle(null, r), a.drawMultiLineString(e, n, s);
  }
  const o = t.getText();
  if (o && o.getText()) {
    const a = i.getBuilder(t.getZIndex(), "Text");
    a.setTextStyle(o), a.drawText(e, n, s);
  }
}
function Xg(i, e, t, n, s) {
  const r = t.getFill(), o = t.getStroke();
  if (o || r) {
    const l = i.getBuilder(t.getZIndex(), "Polygon");
    l.setFillStrokeStyle(r, o), l.drawMultiPolygon(e, n, s);
  }
  const a = t.getText();
  if (a && a.getText()) {
    const l = i.getBuilder(t.getZIndex(), "Text");
    l.setTextStyle(a), l.drawText(e, n, s);
  }
}
function jg(i, e, t, n, s, r) {
  const o = t.getImage(), a = t.getText(), l = a && a.getText(), c = r && o && l ? {} : void 0;
  if (o) {
    if (o.getImageState() != q.LOADED)
      return;
    const h = i.getBuilder(t.getZIndex(), "Image");
    h.setImageStyle(o, c), h.drawPoint(e, n, s);
  }
  if (l) {
    const h = i.getBuilder(t.getZIndex(), "Text");
    h.setTextStyle(a, c), h.drawText(e, n, s);
  }
}
function Yg(i, e, t, n, s, r) {
  const o = t.getImage(), a = o && o.getOpacity() !== 0, l = t.getText(), c = l && l.getText(), h = r && a && c ? {} : void 0;
  if (a) {
    if (o.getImageState() != q.LOADED)
      return;
    const u = i.getBuilder(t.getZIndex(), "Image");
    u.setImageStyle(o, h), u.drawMultiPoint(e, n, s);
  }
  if (c) {
    const u = i.getBuilder(t.getZIndex(), "Text");
    u.setTextStyle(l, h), u.drawText(e, n, s);
  }
}
function Zg(i, e, t, n, s) {
  const r = t.getFill(), o = t.getStroke();
  if (r || o) {
    const l = i.getBuilder(t.getZIndex(), "Polygon");
    l.setFillStrokeStyle(r, o), l.drawPolygon(e, n, s);
  }
  const a = t.getText();
  if (a && a.getText()) {
    const l = i.getBuilder(t.getZIndex(), "Text");
    l.setTextStyle(a), l.drawText(e, n, s);
  }
}
let Kg = !1;
function Hg(i, e, t, n, s, r, o) {
  const a = new XMLHttpRequest();
  a.open(
    "GET",
    typeof i == "function" ? i(t, n, s) : i,
    !0
  ), e.getType() == "arraybuffer" && (a.responseType = "arraybuffer"), a.withCredentials = Kg, a.onload = function(l) {
    if (!a.status || a.status >= 200 && a.status < 300) {
      const c = e.getType();
      try {
        let h;
        c == "text" || c == "json" ? h = a.responseText : c == "xml" ? h = a.responseXML || a.responseText : c == "arraybuffer" && (h = /** @type {ArrayBuffer} */
        a.response), h ? r(
          /** @type {Array<FeatureType>} */
          e.readFeatures(h, {
            extent: t,
            featureProjection: s
          }),
          e.readProjection(h)
        ) : o();
      } catch {
        o();
      }
    } else
      o();
  }, a.onerror = o, a.send();
}
function cc(i, e) {
  return function(t, n, s, r, o) {
    Hg(
      i,
      e,
      t,
      n,
      s,
      /**
       * @param {Array<FeatureType>} features The loaded features.
       * @param {import("./proj/Projection.js").default} dataProjection Data
       * projection.
       */
      (a, l) => {
        this.addFeatures(a), r !== void 0 && r(a);
      },
      () => {
        this.changed(), o !== void 0 && o();
      }
    );
  };
}
function qg(i, e) {
  return [[-1 / 0, -1 / 0, 1 / 0, 1 / 0]];
}
const hc = we();
class tt {
  /**
   * @param {Type} type Geometry type.
   * @param {Array<number>} flatCoordinates Flat coordinates. These always need
   *     to be right-handed for polygons.
   * @param {Array<number>} ends Ends.
   * @param {number} stride Stride.
   * @param {Object<string, *>} properties Properties.
   * @param {number|string|undefined} id Feature id.
   */
  constructor(e, t, n, s, r, o) {
    this.styleFunction, this.extent_, this.id_ = o, this.type_ = e, this.flatCoordinates_ = t, this.flatInteriorPoints_ = null, this.flatMidpoints_ = null, this.ends_ = n || null, this.properties_ = r, this.squaredTolerance_, this.stride_ = s, this.simplifiedGeometry_;
  }
  /**
   * Get a feature property by its key.
   * @param {string} key Key
   * @return {*} Value for the requested key.
   * @api
   */
  get(e) {
    return this.properties_[e];
  }
  /**
   * Get the extent of this feature's geometry.
   * @return {import("../extent.js").Extent} Extent.
   * @api
   */
  getExtent() {
    return this.extent_ || (this.extent_ = this.type_ === "Point" ? Qi(this.flatCoordinates_) : va(
      this.flatCoordinates_,
      0,
      this.flatCoordinates_.length,
      2
    )), this.extent_;
  }
  /**
   * @return {Array<number>} Flat interior points.
   */
  getFlatInteriorPoint() {
    if (!this.flatInteriorPoints_) {
      const e = zt(this.getExtent());
      this.flatInteriorPoints_ = Ba(
        this.flatCoordinates_,
        0,
        this.ends_,
        2,
        e,
        0
      );
    }
    return this.flatInteriorPoints_;
  }
  /**
   * @return {Array<number>} Flat interior points.
   */
  getFlatInteriorPoints() {
    if (!this.flatInteriorPoints_) {
      const e = Dh(this.flatCoordinates_, this.ends_), t = Oh(this.flatCoordinates_, 0, e, 2);
      this.flatInteriorPoints_ = Lh(
        this.flatCoordinates_,
        0,
        e,
        2,
        t
      );
    }
    return this.flatInteriorPoints_;
  }
  /**
   * @return {Array<number>} Flat midpoint.
   */
  getFlatMidpoint() {
    return this.flatMidpoints_ || (this.flatMidpoints_ = pr(
      this.flatCoordinates_,
      0,
      this.flatCoordinates_.length,
      2,
      0.5
    )), this.flatMidpoints_;
  }
  /**
   * @return {Array<number>} Flat midpoints.
   */
  getFlatMidpoints() {
    if (!this.flatMidpoints_) {
      this.flatMidpoints_ = [];
      const e = this.flatCoordinates_;
      let t = 0;
      const n = (
        /** @type {Array<number>} */
        this.ends_
      );
      for (let s = 0, r = n.length; s < r; ++s) {
        const o = n[s], a = pr(e, t, o, 2, 0.5);
        Bt(this.flatMidpoints_, a), t = o;
      }
    }
    return this.flatMidpoints_;
  }
  /**
   * Get the feature identifier.  This is a stable identifier for the feature and
   * is set when reading data from a remote source.
   * @return {number|string|undefined} Id.
   * @api
   */
  getId() {
    return this.id_;
  }
  /**
   * @return {Array<number>} Flat coordinates.
   */
  getOrientedFlatCoordinates() {
    return this.flatCoordinates_;
  }
  /**
   * For API compatibility with {@link module:ol/Feature~Feature}, this method is useful when
   * determining the geometry type in style function (see {@link #getType}).
   * @return {RenderFeature} Feature.
   * @api
   */
  getGeometry() {
    return this;
  }
  /**
   * @param {number} squaredTolerance Squared tolerance.
   * @return {RenderFeature} Simplified geometry.
   */
  getSimplifiedGeometry(e) {
    return this;
  }
  /**
   * Get a transformed and simplified version of the geometry.
   * @param {number} squaredTolerance Squared tolerance.
   * @param {import("../proj.js").TransformFunction} [transform] Optional transform function.
   * @return {RenderFeature} Simplified geometry.
   */
  simplifyTransformed(e, t) {
    return this;
  }
  /**
   * Get the feature properties.
   * @return {Object<string, *>} Feature properties.
   * @api
   */
  getProperties() {
    return this.properties_;
  }
  /**
   * Get an object of all property names and values.  This has the same behavior as getProperties,
   * but is here to conform with the {@link module:ol/Feature~Feature} interface.
   * @return {Object<string, *>?} Object.
   */
  getPropertiesInternal() {
    return this.properties_;
  }
  /**
   * @return {number} Stride.
   */
  getStride() {
    return this.stride_;
  }
  /**
   * @return {import('../style/Style.js').StyleFunction|undefined} Style
   */
  getStyleFunction() {
    return this.styleFunction;
  }
  /**
   * Get the type of this feature's geometry.
   * @return {Type} Geometry type.
   * @api
   */
  getType() {
    return this.type_;
  }
  /**
   * Transform geometry coordinates from tile pixel space to projected.
   *
   * @param {import("../proj.js").ProjectionLike} projection The data projection
   */
  transform(e) {
    e = me(e);
    const t = e.getExtent(), n = e.getWorldExtent();
    if (t && n) {
      const s = He(n) / He(t);
      wt(
        hc,
        n[0],
        n[3],
        s,
        -s,
        0,
        0,
        0
      ), Ut(
        this.flatCoordinates_,
        0,
        this.flatCoordinates_.length,
        2,
        hc,
        this.flatCoordinates_
      );
    }
  }
  /**
   * Apply a transform function to the coordinates of the geometry.
   * The geometry is modified in place.
   * If you do not want the geometry modified in place, first `clone()` it and
   * then use this function on the clone.
   * @param {import("../proj.js").TransformFunction} transformFn Transform function.
   */
  applyTransform(e) {
    e(this.flatCoordinates_, this.flatCoordinates_, this.stride_);
  }
  /**
   * @return {RenderFeature} A cloned render feature.
   */
  clone() {
    return new tt(
      this.type_,
      this.flatCoordinates_.slice(),
      this.ends_?.slice(),
      this.stride_,
      Object.assign({}, this.properties_),
      this.id_
    );
  }
  /**
   * @return {Array<number>|null} Ends.
   */
  getEnds() {
    return this.ends_;
  }
  /**
   * Add transform and resolution based geometry simplification to this instance.
   * @return {RenderFeature} This render feature.
   */
  enableSimplifyTransformed() {
    return this.simplifyTransformed = Eh((e, t) => {
      if (e === this.squaredTolerance_)
        return this.simplifiedGeometry_;
      this.simplifiedGeometry_ = this.clone(), t && this.simplifiedGeometry_.applyTransform(t);
      const n = this.simplifiedGeometry_.getFlatCoordinates();
      let s;
      switch (this.type_) {
        case "LineString":
          n.length = zr(
            n,
            0,
            this.simplifiedGeometry_.flatCoordinates_.length,
            this.simplifiedGeometry_.stride_,
            e,
            n,
            0
          ), s = [n.length];
          break;
        case "MultiLineString":
          s = [], n.length = Ih(
            n,
            0,
            this.simplifiedGeometry_.ends_,
            this.simplifiedGeometry_.stride_,
            e,
            n,
            0,
            s
          );
          break;
        case "Polygon":
          s = [], n.length = Na(
            n,
            0,
            this.simplifiedGeometry_.ends_,
            this.simplifiedGeometry_.stride_,
            Math.sqrt(e),
            n,
            0,
            s
          );
          break;
      }
      return s && (this.simplifiedGeometry_ = new tt(
        this.type_,
        n,
        s,
        2,
        this.properties_,
        this.id_
      )), this.squaredTolerance_ = e, this.simplifiedGeometry_;
    }), this;
  }
}
tt.prototype.getFlatCoordinates = tt.prototype.getOrientedFlatCoordinates;
function qh(i, e, t = 0, n = i.length - 1, s = Jg) {
  for (; n > t; ) {
    if (n - t > 600) {
      const l = n - t + 1, c = e - t + 1, h = Math.log(l), u = 0.5 * Math.exp(2 * h / 3), d = 0.5 * Math.sqrt(h * u * (l - u) / l) * (c - l / 2 < 0 ? -1 : 1), f = Math.max(t, Math.floor(e - c * u / l + d)), g = Math.min(n, Math.floor(e + (l - c) * u / l + d));
      qh(i, e, f, g, s);
    }
    const r = i[e];
    let o = t, a = n;
    for (Wi(i, t, e), s(i[n], r) > 0 && Wi(i, t, n); o < a; ) {
      for (Wi(i, o, a), o++, a--; s(i[o], r) < 0; ) o++;
      for (; s(i[a], r) > 0; ) a--;
    }
    s(i[t], r) === 0 ? Wi(i, t, a) : (a++, Wi(i, a, n)), a <= e && (t = a + 1), e <= a && (n = a - 1);
  }
}
function Wi(i, e, t) {
  const n = i[e];
  i[e] = i[t], i[t] = n;
}
function Jg(i, e) {
  return i < e ? -1 : i > e ? 1 : 0;
}
let Jh = class {
  constructor(e = 9) {
    this._maxEntries = Math.max(4, e), this._minEntries = Math.max(2, Math.ceil(this._maxEntries * 0.4)), this.clear();
  }
  all() {
    return this._all(this.data, []);
  }
  search(e) {
    let t = this.data;
    const n = [];
    if (!Js(e, t)) return n;
    const s = this.toBBox, r = [];
    for (; t; ) {
      for (let o = 0; o < t.children.length; o++) {
        const a = t.children[o], l = t.leaf ? s(a) : a;
        Js(e, l) && (t.leaf ? n.push(a) : Eo(e, l) ? this._all(a, n) : r.push(a));
      }
      t = r.pop();
    }
    return n;
  }
  collides(e) {
    let t = this.data;
    if (!Js(e, t)) return !1;
    const n = [];
    for (; t; ) {
      for (let s = 0; s < t.children.length; s++) {
        const r = t.children[s], o = t.leaf ? this.toBBox(r) : r;
        if (Js(e, o)) {
          if (t.leaf || Eo(e, o)) return !0;
          n.push(r);
        }
      }
      t = n.pop();
    }
    return !1;
  }
  load(e) {
    if (!(e && e.length)) return this;
    if (e.length < this._minEntries) {
      for (let n = 0; n < e.length; n++)
        this.insert(e[n]);
      return this;
    }
    let t = this._build(e.slice(), 0, e.length - 1, 0);
    if (!this.data.children.length)
      this.data = t;
    else if (this.data.height === t.height)
      this._splitRoot(this.data, t);
    else {
      if (this.data.height < t.height) {
        const n = this.data;
        this.data = t, t = n;
      }
      this._insert(t, this.data.height - t.height - 1, !0);
    }
    return this;
  }
  insert(e) {
    return e && this._insert(e, this.data.height - 1), this;
  }
  clear() {
    return this.data = di([]), this;
  }
  remove(e, t) {
    if (!e) return this;
    let n = this.data;
    const s = this.toBBox(e), r = [], o = [];
    let a, l, c;
    for (; n || r.length; ) {
      if (n || (n = r.pop(), l = r[r.length - 1], a = o.pop(), c = !0), n.leaf) {
        const h = Qg(e, n.children, t);
        if (h !== -1)
          return n.children.splice(h, 1), r.push(n), this._condense(r), this;
      }
      !c && !n.leaf && Eo(n, s) ? (r.push(n), o.push(a), a = 0, l = n, n = n.children[0]) : l ? (a++, n = l.children[a], c = !1) : n = null;
    }
    return this;
  }
  toBBox(e) {
    return e;
  }
  compareMinX(e, t) {
    return e.minX - t.minX;
  }
  compareMinY(e, t) {
    return e.minY - t.minY;
  }
  toJSON() {
    return this.data;
  }
  fromJSON(e) {
    return this.data = e, this;
  }
  _all(e, t) {
    const n = [];
    for (; e; )
      e.leaf ? t.push(...e.children) : n.push(...e.children), e = n.pop();
    return t;
  }
  _build(e, t, n, s) {
    const r = n - t + 1;
    let o = this._maxEntries, a;
    if (r <= o)
      return a = di(e.slice(t, n + 1)), ti(a, this.toBBox), a;
    s || (s = Math.ceil(Math.log(r) / Math.log(o)), o = Math.ceil(r / Math.pow(o, s - 1))), a = di([]), a.leaf = !1, a.height = s;
    const l = Math.ceil(r / o), c = l * Math.ceil(Math.sqrt(o));
    uc(e, t, n, c, this.compareMinX);
    for (let h = t; h <= n; h += c) {
      const u = Math.min(h + c - 1, n);
      uc(e, h, u, l, this.compareMinY);
      for (let d = h; d <= u; d += l) {
        const f = Math.min(d + l - 1, u);
        a.children.push(this._build(e, d, f, s - 1));
      }
    }
    return ti(a, this.toBBox), a;
  }
  _chooseSubtree(e, t, n, s) {
    for (; s.push(t), !(t.leaf || s.length - 1 === n); ) {
      let r = 1 / 0, o = 1 / 0, a;
      for (let l = 0; l < t.children.length; l++) {
        const c = t.children[l], h = xo(c), u = n_(e, c) - h;
        u < o ? (o = u, r = h < r ? h : r, a = c) : u === o && h < r && (r = h, a = c);
      }
      t = a || t.children[0];
    }
    return t;
  }
  _insert(e, t, n) {
    const s = n ? e : this.toBBox(e), r = [], o = this._chooseSubtree(s, this.data, t, r);
    for (o.children.push(e), Ki(o, s); t >= 0 && r[t].children.length > this._maxEntries; )
      this._split(r, t), t--;
    this._adjustParentBBoxes(s, r, t);
  }
  // split overflowed node into two
  _split(e, t) {
    const n = e[t], s = n.children.length, r = this._minEntries;
    this._chooseSplitAxis(n, r, s);
    const o = this._chooseSplitIndex(n, r, s), a = di(n.children.splice(o, n.children.length - o));
    a.height = n.height, a.leaf = n.leaf, ti(n, this.toBBox), ti(a, this.toBBox), t ? e[t - 1].children.push(a) : this._splitRoot(n, a);
  }
  _splitRoot(e, t) {
    this.data = di([e, t]), this.data.height = e.height + 1, this.data.leaf = !1, ti(this.data, this.toBBox);
  }
  _chooseSplitIndex(e, t, n) {
    let s, r = 1 / 0, o = 1 / 0;
    for (let a = t; a <= n - t; a++) {
      const l = Zi(e, 0, a, this.toBBox), c = Zi(e, a, n, this.toBBox), h = i_(l, c), u = xo(l) + xo(c);
      h < r ? (r = h, s = a, o = u < o ? u : o) : h === r && u < o && (o = u, s = a);
    }
    return s || n - t;
  }
  // sorts node children by the best axis for split
  _chooseSplitAxis(e, t, n) {
    const s = e.leaf ? this.compareMinX : e_, r = e.leaf ? this.compareMinY : t_, o = this._allDistMargin(e, t, n, s), a = this._allDistMargin(e, t, n, r);
    o < a && e.children.sort(s);
  }
  // total margin of all possible split distributions where each node is at least m full
  _allDistMargin(e, t, n, s) {
    e.children.sort(s);
    const r = this.toBBox, o = Zi(e, 0, t, r), a = Zi(e, n - t, n, r);
    let l = qs(o) + qs(a);
    for (let c = t; c < n - t; c++) {
      const h = e.children[c];
      Ki(o, e.leaf ? r(h) : h), l += qs(o);
    }
    for (let c = n - t - 1; c >= t; c--) {
      const h = e.children[c];
      Ki(a, e.leaf ? r(h) : h), l += qs(a);
    }
    return l;
  }
  _adjustParentBBoxes(e, t, n) {
    for (let s = n; s >= 0; s--)
      Ki(t[s], e);
  }
  _condense(e) {
    for (let t = e.length - 1, n; t >= 0; t--)
      e[t].children.length === 0 ? t > 0 ? (n = e[t - 1].children, n.splice(n.indexOf(e[t]), 1)) : this.clear() : ti(e[t], this.toBBox);
  }
};
function Qg(i, e, t) {
  if (!t) return e.indexOf(i);
  for (let n = 0; n < e.length; n++)
    if (t(i, e[n])) return n;
  return -1;
}
function ti(i, e) {
  Zi(i, 0, i.children.length, e, i);
}
function Zi(i, e, t, n, s) {
  s || (s = di(null)), s.minX = 1 / 0, s.minY = 1 / 0, s.maxX = -1 / 0, s.maxY = -1 / 0;
  for (let r = e; r < t; r++) {
    const o = i.children[r];
    Ki(s, i.leaf ? n(o) : o);
  }
  return s;
}
function Ki(i, e) {
  return i.minX = Math.min(i.minX, e.minX), i.minY = Math.min(i.minY, e.minY), i.maxX = Math.max(i.maxX, e.maxX), i.maxY = Math.max(i.maxY, e.maxY), i;
}
function e_(i, e) {
  return i.minX - e.minX;
}
function t_(i, e) {
  return i.minY - e.minY;
}
function xo(i) {
  return (i.maxX - i.minX) * (i.maxY - i.minY);
}
function qs(i) {
  return i.maxX - i.minX + (i.maxY - i.minY);
}
function n_(i, e) {
  return (Math.max(e.maxX, i.maxX) - Math.min(e.minX, i.minX)) * (Math.max(e.maxY, i.maxY) - Math.min(e.minY, i.minY));
}
function i_(i, e) {
  const t = Math.max(i.minX, e.minX), n = Math.max(i.minY, e.minY), s = Math.min(i.maxX, e.maxX), r = Math.min(i.maxY, e.maxY);
  return Math.max(0, s - t) * Math.max(0, r - n);
}
function Eo(i, e) {
  return i.minX <= e.minX && i.minY <= e.minY && e.maxX <= i.maxX && e.maxY <= i.maxY;
}
function Js(i, e) {
  return e.minX <= i.maxX && e.minY <= i.maxY && e.maxX >= i.minX && e.maxY >= i.minY;
}
function di(i) {
  return {
    children: i,
    height: 1,
    leaf: !0,
    minX: 1 / 0,
    minY: 1 / 0,
    maxX: -1 / 0,
    maxY: -1 / 0
  };
}
function uc(i, e, t, n, s) {
  const r = [e, t];
  for (; r.length; ) {
    if (t = r.pop(), e = r.pop(), t - e <= n) continue;
    const o = e + Math.ceil((t - e) / n / 2) * n;
    qh(i, o, e, t, s), r.push(e, o, o, t);
  }
}
class aa {
  /**
   * @param {number} [maxEntries] Max entries.
   */
  constructor(e) {
    this.rbush_ = new Jh(e), this.items_ = {};
  }
  /**
   * Insert a value into the RBush.
   * @param {import("../extent.js").Extent} extent Extent.
   * @param {T} value Value.
   */
  insert(e, t) {
    const n = {
      minX: e[0],
      minY: e[1],
      maxX: e[2],
      maxY: e[3],
      value: t
    };
    this.rbush_.insert(n), this.items_[z(t)] = n;
  }
  /**
   * Bulk-insert values into the RBush.
   * @param {Array<import("../extent.js").Extent>} extents Extents.
   * @param {Array<T>} values Values.
   */
  load(e, t) {
    const n = new Array(t.length);
    for (let s = 0, r = t.length; s < r; s++) {
      const o = e[s], a = t[s], l = {
        minX: o[0],
        minY: o[1],
        maxX: o[2],
        maxY: o[3],
        value: a
      };
      n[s] = l, this.items_[z(a)] = l;
    }
    this.rbush_.load(n);
  }
  /**
   * Remove a value from the RBush.
   * @param {T} value Value.
   * @return {boolean} Removed.
   */
  remove(e) {
    const t = z(e), n = this.items_[t];
    return delete this.items_[t], this.rbush_.remove(n) !== null;
  }
  /**
   * Update the extent of a value in the RBush.
   * @param {import("../extent.js").Extent} extent Extent.
   * @param {T} value Value.
   */
  update(e, t) {
    const n = this.items_[z(t)], s = [n.minX, n.minY, n.maxX, n.maxY];
    Ri(s, e) || (this.remove(t), this.insert(e, t));
  }
  /**
   * Return all values in the RBush.
   * @return {Array<T>} All.
   */
  getAll() {
    return this.rbush_.all().map(function(t) {
      return t.value;
    });
  }
  /**
   * Return all values in the given extent.
   * @param {import("../extent.js").Extent} extent Extent.
   * @return {Array<T>} All in extent.
   */
  getInExtent(e) {
    const t = {
      minX: e[0],
      minY: e[1],
      maxX: e[2],
      maxY: e[3]
    };
    return this.rbush_.search(t).map(function(s) {
      return s.value;
    });
  }
  /**
   * Calls a callback function with each value in the tree.
   * If the callback returns a truthy value, this value is returned without
   * checking the rest of the tree.
   * @param {function(T): R} callback Callback.
   * @return {R|undefined} Callback return value.
   * @template R
   */
  forEach(e) {
    return this.forEach_(this.getAll(), e);
  }
  /**
   * Calls a callback function with each value in the provided extent.
   * @param {import("../extent.js").Extent} extent Extent.
   * @param {function(T): R} callback Callback.
   * @return {R|undefined} Callback return value.
   * @template R
   */
  forEachInExtent(e, t) {
    return this.forEach_(this.getInExtent(e), t);
  }
  /**
   * @param {Array<T>} values Values.
   * @param {function(T): R} callback Callback.
   * @return {R|undefined} Callback return value.
   * @template R
   * @private
   */
  forEach_(e, t) {
    let n;
    for (let s = 0, r = e.length; s < r; s++)
      if (n = t(e[s]), n)
        return n;
    return n;
  }
  /**
   * @return {boolean} Is empty.
   */
  isEmpty() {
    return Bn(this.items_);
  }
  /**
   * Remove all values from the RBush.
   */
  clear() {
    this.rbush_.clear(), this.items_ = {};
  }
  /**
   * @param {import("../extent.js").Extent} [extent] Extent.
   * @return {import("../extent.js").Extent} Extent.
   */
  getExtent(e) {
    const t = this.rbush_.toJSON();
    return Cn(t.minX, t.minY, t.maxX, t.maxY, e);
  }
  /**
   * @param {RBush<T>} rbush R-Tree.
   */
  concat(e) {
    this.rbush_.load(e.rbush_.all());
    for (const t in e.items_)
      this.items_[t] = e.items_[t];
  }
}
class Qh extends Wt {
  /**
   * @param {Options} options Source options.
   */
  constructor(e) {
    super(), this.projection = me(e.projection), this.attributions_ = dc(e.attributions), this.attributionsCollapsible_ = e.attributionsCollapsible ?? !0, this.loading = !1, this.state_ = e.state !== void 0 ? e.state : "ready", this.wrapX_ = e.wrapX !== void 0 ? e.wrapX : !1, this.interpolate_ = !!e.interpolate, this.viewResolver = null, this.viewRejector = null;
    const t = this;
    this.viewPromise_ = new Promise(function(n, s) {
      t.viewResolver = n, t.viewRejector = s;
    });
  }
  /**
   * Get the attribution function for the source.
   * @return {?Attribution} Attribution function.
   * @api
   */
  getAttributions() {
    return this.attributions_;
  }
  /**
   * @return {boolean} Attributions are collapsible.
   * @api
   */
  getAttributionsCollapsible() {
    return this.attributionsCollapsible_;
  }
  /**
   * Get the projection of the source.
   * @return {import("../proj/Projection.js").default|null} Projection.
   * @api
   */
  getProjection() {
    return this.projection;
  }
  /**
   * @param {import("../proj/Projection").default} [projection] Projection.
   * @return {Array<number>|null} Resolutions.
   */
  getResolutions(e) {
    return null;
  }
  /**
   * @return {Promise<import("../View.js").ViewOptions>} A promise for view-related properties.
   */
  getView() {
    return this.viewPromise_;
  }
  /**
   * Get the state of the source, see {@link import("./Source.js").State} for possible states.
   * @return {import("./Source.js").State} State.
   * @api
   */
  getState() {
    return this.state_;
  }
  /**
   * @return {boolean|undefined} Wrap X.
   */
  getWrapX() {
    return this.wrapX_;
  }
  /**
   * @return {boolean} Use linear interpolation when resampling.
   */
  getInterpolate() {
    return this.interpolate_;
  }
  /**
   * Refreshes the source. The source will be cleared, and data from the server will be reloaded.
   * @api
   */
  refresh() {
    this.changed();
  }
  /**
   * Set the attributions of the source.
   * @param {AttributionLike|undefined} attributions Attributions.
   *     Can be passed as `string`, `Array<string>`, {@link module:ol/source/Source~Attribution},
   *     or `undefined`.
   * @api
   */
  setAttributions(e) {
    this.attributions_ = dc(e), this.changed();
  }
  /**
   * Set the state of the source.
   * @param {import("./Source.js").State} state State.
   */
  setState(e) {
    this.state_ = e, this.changed();
  }
}
function dc(i) {
  return i ? typeof i == "function" ? i : (Array.isArray(i) || (i = [i]), (e) => i) : null;
}
const be = {
  /**
   * Triggered when a feature is added to the source.
   * @event module:ol/source/Vector.VectorSourceEvent#addfeature
   * @api
   */
  ADDFEATURE: "addfeature",
  /**
   * Triggered when a feature is updated.
   * @event module:ol/source/Vector.VectorSourceEvent#changefeature
   * @api
   */
  CHANGEFEATURE: "changefeature",
  /**
   * Triggered when the clear method is called on the source.
   * @event module:ol/source/Vector.VectorSourceEvent#clear
   * @api
   */
  CLEAR: "clear",
  /**
   * Triggered when a feature is removed from the source.
   * See {@link module:ol/source/Vector~VectorSource#clear source.clear()} for exceptions.
   * @event module:ol/source/Vector.VectorSourceEvent#removefeature
   * @api
   */
  REMOVEFEATURE: "removefeature",
  /**
   * Triggered when features starts loading.
   * @event module:ol/source/Vector.VectorSourceEvent#featuresloadstart
   * @api
   */
  FEATURESLOADSTART: "featuresloadstart",
  /**
   * Triggered when features finishes loading.
   * @event module:ol/source/Vector.VectorSourceEvent#featuresloadend
   * @api
   */
  FEATURESLOADEND: "featuresloadend",
  /**
   * Triggered if feature loading results in an error.
   * @event module:ol/source/Vector.VectorSourceEvent#featuresloaderror
   * @api
   */
  FEATURESLOADERROR: "featuresloaderror"
};
class ln extends At {
  /**
   * @param {string} type Type.
   * @param {FeatureType} [feature] Feature.
   * @param {Array<FeatureType>} [features] Features.
   */
  constructor(e, t, n) {
    super(e), this.feature = t, this.features = n;
  }
}
class Ya extends Qh {
  /**
   * @param {Options<FeatureType>} [options] Vector source options.
   */
  constructor(e) {
    e = e || {}, super({
      attributions: e.attributions,
      interpolate: !0,
      projection: void 0,
      state: "ready",
      wrapX: e.wrapX !== void 0 ? e.wrapX : !0
    }), this.on, this.once, this.un, this.loader_ = us, this.format_ = e.format || null, this.overlaps_ = e.overlaps === void 0 ? !0 : e.overlaps, this.url_ = e.url, e.loader !== void 0 ? this.loader_ = e.loader : this.url_ !== void 0 && (ie(this.format_, "`format` must be set when `url` is set"), this.loader_ = cc(this.url_, this.format_)), this.strategy_ = e.strategy !== void 0 ? e.strategy : qg;
    const t = e.useSpatialIndex !== void 0 ? e.useSpatialIndex : !0;
    this.featuresRtree_ = t ? new aa() : null, this.loadedExtentsRtree_ = new aa(), this.loadingExtentsCount_ = 0, this.nullGeometryFeatures_ = {}, this.idIndex_ = {}, this.uidIndex_ = {}, this.featureChangeKeys_ = {}, this.featuresCollection_ = null;
    let n, s;
    Array.isArray(e.features) ? s = e.features : e.features && (n = e.features, s = n.getArray()), !t && n === void 0 && (n = new Ue(s)), s !== void 0 && this.addFeaturesInternal(s), n !== void 0 && this.bindFeaturesCollection_(n);
  }
  /**
   * Add a single feature to the source.  If you want to add a batch of features
   * at once, call {@link module:ol/source/Vector~VectorSource#addFeatures #addFeatures()}
   * instead. A feature will not be added to the source if feature with
   * the same id is already there. The reason for this behavior is to avoid
   * feature duplication when using bbox or tile loading strategies.
   * Note: this also applies if a {@link module:ol/Collection~Collection} is used for features,
   * meaning that if a feature with a duplicate id is added in the collection, it will
   * be removed from it right away.
   * @param {FeatureType} feature Feature to add.
   * @api
   */
  addFeature(e) {
    this.addFeatureInternal(e), this.changed();
  }
  /**
   * Add a feature without firing a `change` event.
   * @param {FeatureType} feature Feature.
   * @protected
   */
  addFeatureInternal(e) {
    const t = z(e);
    if (!this.addToIndex_(t, e)) {
      this.featuresCollection_ && this.featuresCollection_.remove(e);
      return;
    }
    this.setupChangeEvents_(t, e);
    const n = e.getGeometry();
    if (n) {
      const s = n.getExtent();
      this.featuresRtree_ && this.featuresRtree_.insert(s, e);
    } else
      this.nullGeometryFeatures_[t] = e;
    this.dispatchEvent(
      new ln(be.ADDFEATURE, e)
    );
  }
  /**
   * @param {string} featureKey Unique identifier for the feature.
   * @param {FeatureType} feature The feature.
   * @private
   */
  setupChangeEvents_(e, t) {
    t instanceof tt || (this.featureChangeKeys_[e] = [
      ne(t, Y.CHANGE, this.handleFeatureChange_, this),
      ne(
        t,
        Ii.PROPERTYCHANGE,
        this.handleFeatureChange_,
        this
      )
    ]);
  }
  /**
   * @param {string} featureKey Unique identifier for the feature.
   * @param {FeatureType} feature The feature.
   * @return {boolean} The feature is "valid", in the sense that it is also a
   *     candidate for insertion into the Rtree.
   * @private
   */
  addToIndex_(e, t) {
    let n = !0;
    if (t.getId() !== void 0) {
      const s = String(t.getId());
      if (!(s in this.idIndex_))
        this.idIndex_[s] = t;
      else if (t instanceof tt) {
        const r = this.idIndex_[s];
        r instanceof tt ? Array.isArray(r) ? r.push(t) : this.idIndex_[s] = [r, t] : n = !1;
      } else
        n = !1;
    }
    return n && (ie(
      !(e in this.uidIndex_),
      "The passed `feature` was already added to the source"
    ), this.uidIndex_[e] = t), n;
  }
  /**
   * Add a batch of features to the source.
   * @param {Array<FeatureType>} features Features to add.
   * @api
   */
  addFeatures(e) {
    this.addFeaturesInternal(e), this.changed();
  }
  /**
   * Add features without firing a `change` event.
   * @param {Array<FeatureType>} features Features.
   * @protected
   */
  addFeaturesInternal(e) {
    const t = [], n = [], s = [];
    for (let r = 0, o = e.length; r < o; r++) {
      const a = e[r], l = z(a);
      this.addToIndex_(l, a) && n.push(a);
    }
    for (let r = 0, o = n.length; r < o; r++) {
      const a = n[r], l = z(a);
      this.setupChangeEvents_(l, a);
      const c = a.getGeometry();
      if (c) {
        const h = c.getExtent();
        t.push(h), s.push(a);
      } else
        this.nullGeometryFeatures_[l] = a;
    }
    if (this.featuresRtree_ && this.featuresRtree_.load(t, s), this.hasListener(be.ADDFEATURE))
      for (let r = 0, o = n.length; r < o; r++)
        this.dispatchEvent(
          new ln(be.ADDFEATURE, n[r])
        );
  }
  /**
   * @param {!Collection<FeatureType>} collection Collection.
   * @private
   */
  bindFeaturesCollection_(e) {
    let t = !1;
    this.addEventListener(
      be.ADDFEATURE,
      /**
       * @param {VectorSourceEvent<FeatureType>} evt The vector source event
       */
      function(n) {
        t || (t = !0, e.push(n.feature), t = !1);
      }
    ), this.addEventListener(
      be.REMOVEFEATURE,
      /**
       * @param {VectorSourceEvent<FeatureType>} evt The vector source event
       */
      function(n) {
        t || (t = !0, e.remove(n.feature), t = !1);
      }
    ), e.addEventListener(
      $e.ADD,
      /**
       * @param {import("../Collection.js").CollectionEvent<FeatureType>} evt The collection event
       */
      (n) => {
        t || (t = !0, this.addFeature(n.element), t = !1);
      }
    ), e.addEventListener(
      $e.REMOVE,
      /**
       * @param {import("../Collection.js").CollectionEvent<FeatureType>} evt The collection event
       */
      (n) => {
        t || (t = !0, this.removeFeature(n.element), t = !1);
      }
    ), this.featuresCollection_ = e;
  }
  /**
   * Remove all features from the source.
   * @param {boolean} [fast] Skip dispatching of {@link module:ol/source/Vector.VectorSourceEvent#event:removefeature} events.
   * @api
   */
  clear(e) {
    if (e) {
      for (const n in this.featureChangeKeys_)
        this.featureChangeKeys_[n].forEach(ce);
      this.featuresCollection_ || (this.featureChangeKeys_ = {}, this.idIndex_ = {}, this.uidIndex_ = {});
    } else if (this.featuresRtree_) {
      this.featuresRtree_.forEach((n) => {
        this.removeFeatureInternal(n);
      });
      for (const n in this.nullGeometryFeatures_)
        this.removeFeatureInternal(this.nullGeometryFeatures_[n]);
    }
    this.featuresCollection_ && this.featuresCollection_.clear(), this.featuresRtree_ && this.featuresRtree_.clear(), this.nullGeometryFeatures_ = {};
    const t = new ln(be.CLEAR);
    this.dispatchEvent(t), this.changed();
  }
  /**
   * Iterate through all features on the source, calling the provided callback
   * with each one.  If the callback returns any "truthy" value, iteration will
   * stop and the function will return the same value.
   * Note: this function only iterate through the feature that have a defined geometry.
   *
   * @param {function(FeatureType): T} callback Called with each feature
   *     on the source.  Return a truthy value to stop iteration.
   * @return {T|undefined} The return value from the last call to the callback.
   * @template T
   * @api
   */
  forEachFeature(e) {
    if (this.featuresRtree_)
      return this.featuresRtree_.forEach(e);
    this.featuresCollection_ && this.featuresCollection_.forEach(e);
  }
  /**
   * Iterate through all features whose geometries contain the provided
   * coordinate, calling the callback with each feature.  If the callback returns
   * a "truthy" value, iteration will stop and the function will return the same
   * value.
   *
   * For {@link module:ol/render/Feature~RenderFeature} features, the callback will be
   * called for all features.
   *
   * @param {import("../coordinate.js").Coordinate} coordinate Coordinate.
   * @param {function(FeatureType): T} callback Called with each feature
   *     whose goemetry contains the provided coordinate.
   * @return {T|undefined} The return value from the last call to the callback.
   * @template T
   */
  forEachFeatureAtCoordinateDirect(e, t) {
    const n = [e[0], e[1], e[0], e[1]];
    return this.forEachFeatureInExtent(n, function(s) {
      const r = s.getGeometry();
      if (r instanceof tt || r.intersectsCoordinate(e))
        return t(s);
    });
  }
  /**
   * Iterate through all features whose bounding box intersects the provided
   * extent (note that the feature's geometry may not intersect the extent),
   * calling the callback with each feature.  If the callback returns a "truthy"
   * value, iteration will stop and the function will return the same value.
   *
   * If you are interested in features whose geometry intersects an extent, call
   * the {@link module:ol/source/Vector~VectorSource#forEachFeatureIntersectingExtent #forEachFeatureIntersectingExtent()} method instead.
   *
   * When `useSpatialIndex` is set to false, this method will loop through all
   * features, equivalent to {@link module:ol/source/Vector~VectorSource#forEachFeature #forEachFeature()}.
   *
   * @param {import("../extent.js").Extent} extent Extent.
   * @param {function(FeatureType): T} callback Called with each feature
   *     whose bounding box intersects the provided extent.
   * @return {T|undefined} The return value from the last call to the callback.
   * @template T
   * @api
   */
  forEachFeatureInExtent(e, t) {
    if (this.featuresRtree_)
      return this.featuresRtree_.forEachInExtent(e, t);
    this.featuresCollection_ && this.featuresCollection_.forEach(t);
  }
  /**
   * Iterate through all features whose geometry intersects the provided extent,
   * calling the callback with each feature.  If the callback returns a "truthy"
   * value, iteration will stop and the function will return the same value.
   *
   * If you only want to test for bounding box intersection, call the
   * {@link module:ol/source/Vector~VectorSource#forEachFeatureInExtent #forEachFeatureInExtent()} method instead.
   *
   * @param {import("../extent.js").Extent} extent Extent.
   * @param {function(FeatureType): T} callback Called with each feature
   *     whose geometry intersects the provided extent.
   * @return {T|undefined} The return value from the last call to the callback.
   * @template T
   * @api
   */
  forEachFeatureIntersectingExtent(e, t) {
    return this.forEachFeatureInExtent(
      e,
      /**
       * @param {FeatureType} feature Feature.
       * @return {T|undefined} The return value from the last call to the callback.
       */
      function(n) {
        const s = n.getGeometry();
        if (s instanceof tt || s.intersectsExtent(e)) {
          const r = t(n);
          if (r)
            return r;
        }
      }
    );
  }
  /**
   * Get the features collection associated with this source. Will be `null`
   * unless the source was configured with `useSpatialIndex` set to `false`, or
   * with a {@link module:ol/Collection~Collection} as `features`.
   * @return {Collection<FeatureType>|null} The collection of features.
   * @api
   */
  getFeaturesCollection() {
    return this.featuresCollection_;
  }
  /**
   * Get a snapshot of the features currently on the source in random order. The returned array
   * is a copy, the features are references to the features in the source.
   * @return {Array<FeatureType>} Features.
   * @api
   */
  getFeatures() {
    let e;
    return this.featuresCollection_ ? e = this.featuresCollection_.getArray().slice(0) : this.featuresRtree_ && (e = this.featuresRtree_.getAll(), Bn(this.nullGeometryFeatures_) || Bt(e, Object.values(this.nullGeometryFeatures_))), e;
  }
  /**
   * Get all features whose geometry intersects the provided coordinate.
   * @param {import("../coordinate.js").Coordinate} coordinate Coordinate.
   * @return {Array<FeatureType>} Features.
   * @api
   */
  getFeaturesAtCoordinate(e) {
    const t = [];
    return this.forEachFeatureAtCoordinateDirect(e, function(n) {
      t.push(n);
    }), t;
  }
  /**
   * Get all features whose bounding box intersects the provided extent.  Note that this returns an array of
   * all features intersecting the given extent in random order (so it may include
   * features whose geometries do not intersect the extent).
   *
   * When `useSpatialIndex` is set to false, this method will return all
   * features.
   *
   * @param {import("../extent.js").Extent} extent Extent.
   * @param {import("../proj/Projection.js").default} [projection] Include features
   * where `extent` exceeds the x-axis bounds of `projection` and wraps around the world.
   * @return {Array<FeatureType>} Features.
   * @api
   */
  getFeaturesInExtent(e, t) {
    if (this.featuresRtree_) {
      if (!(t && t.canWrapX() && this.getWrapX()))
        return this.featuresRtree_.getInExtent(e);
      const s = dh(e, t);
      return [].concat(
        ...s.map((r) => this.featuresRtree_.getInExtent(r))
      );
    }
    return this.featuresCollection_ ? this.featuresCollection_.getArray().slice(0) : [];
  }
  /**
   * Get the closest feature to the provided coordinate.
   *
   * This method is not available when the source is configured with
   * `useSpatialIndex` set to `false` and the features in this source are of type
   * {@link module:ol/Feature~Feature}.
   * @param {import("../coordinate.js").Coordinate} coordinate Coordinate.
   * @param {function(FeatureType):boolean} [filter] Feature filter function.
   *     The filter function will receive one argument, the {@link module:ol/Feature~Feature feature}
   *     and it should return a boolean value. By default, no filtering is made.
   * @return {FeatureType|null} Closest feature (or `null` if none found).
   * @api
   */
  getClosestFeatureToCoordinate(e, t) {
    const n = e[0], s = e[1];
    let r = null;
    const o = [NaN, NaN];
    let a = 1 / 0;
    const l = [-1 / 0, -1 / 0, 1 / 0, 1 / 0];
    return t = t || zn, this.featuresRtree_.forEachInExtent(
      l,
      /**
       * @param {FeatureType} feature Feature.
       */
      function(c) {
        if (t(c)) {
          const h = c.getGeometry(), u = a;
          if (a = h instanceof tt ? 0 : h.closestPointXY(n, s, o, a), a < u) {
            r = c;
            const d = Math.sqrt(a);
            l[0] = n - d, l[1] = s - d, l[2] = n + d, l[3] = s + d;
          }
        }
      }
    ), r;
  }
  /**
   * Get the extent of the features currently in the source.
   *
   * This method is not available when the source is configured with
   * `useSpatialIndex` set to `false`.
   * @param {import("../extent.js").Extent} [extent] Destination extent. If provided, no new extent
   *     will be created. Instead, that extent's coordinates will be overwritten.
   * @return {import("../extent.js").Extent} Extent.
   * @api
   */
  getExtent(e) {
    return this.featuresRtree_.getExtent(e);
  }
  /**
   * Get a feature by its identifier (the value returned by feature.getId()). When `RenderFeature`s
   * are used, `getFeatureById()` can return an array of `RenderFeature`s. This allows for handling
   * of `GeometryCollection` geometries, where format readers create one `RenderFeature` per
   * `GeometryCollection` member.
   * Note that the index treats string and numeric identifiers as the same.  So
   * `source.getFeatureById(2)` will return a feature with id `'2'` or `2`.
   *
   * @param {string|number} id Feature identifier.
   * @return {FeatureClassOrArrayOfRenderFeatures<FeatureType>|null} The feature (or `null` if not found).
   * @api
   */
  getFeatureById(e) {
    const t = this.idIndex_[e.toString()];
    return t !== void 0 ? (
      /** @type {FeatureClassOrArrayOfRenderFeatures<FeatureType>} */
      t
    ) : null;
  }
  /**
   * Get a feature by its internal unique identifier (using `getUid`).
   *
   * @param {string} uid Feature identifier.
   * @return {FeatureType|null} The feature (or `null` if not found).
   */
  getFeatureByUid(e) {
    const t = this.uidIndex_[e];
    return t !== void 0 ? t : null;
  }
  /**
   * Get the format associated with this source.
   *
   * @return {import("../format/Feature.js").default<FeatureType>|null}} The feature format.
   * @api
   */
  getFormat() {
    return this.format_;
  }
  /**
   * @return {boolean} The source can have overlapping geometries.
   */
  getOverlaps() {
    return this.overlaps_;
  }
  /**
   * Get the url associated with this source.
   *
   * @return {string|import("../featureloader.js").FeatureUrlFunction|undefined} The url.
   * @api
   */
  getUrl() {
    return this.url_;
  }
  /**
   * @param {Event} event Event.
   * @private
   */
  handleFeatureChange_(e) {
    const t = (
      /** @type {FeatureType} */
      e.target
    ), n = z(t), s = t.getGeometry();
    if (!s)
      n in this.nullGeometryFeatures_ || (this.featuresRtree_ && this.featuresRtree_.remove(t), this.nullGeometryFeatures_[n] = t);
    else {
      const o = s.getExtent();
      n in this.nullGeometryFeatures_ ? (delete this.nullGeometryFeatures_[n], this.featuresRtree_ && this.featuresRtree_.insert(o, t)) : this.featuresRtree_ && this.featuresRtree_.update(o, t);
    }
    const r = t.getId();
    if (r !== void 0) {
      const o = r.toString();
      this.idIndex_[o] !== t && (this.removeFromIdIndex_(t), this.idIndex_[o] = t);
    } else
      this.removeFromIdIndex_(t), this.uidIndex_[n] = t;
    this.changed(), this.dispatchEvent(
      new ln(be.CHANGEFEATURE, t)
    );
  }
  /**
   * Returns true if the feature is contained within the source.
   * @param {FeatureType} feature Feature.
   * @return {boolean} Has feature.
   * @api
   */
  hasFeature(e) {
    const t = e.getId();
    return t !== void 0 ? t in this.idIndex_ : z(e) in this.uidIndex_;
  }
  /**
   * @return {boolean} Is empty.
   */
  isEmpty() {
    return this.featuresRtree_ ? this.featuresRtree_.isEmpty() && Bn(this.nullGeometryFeatures_) : this.featuresCollection_ ? this.featuresCollection_.getLength() === 0 : !0;
  }
  /**
   * @param {import("../extent.js").Extent} extent Extent.
   * @param {number} resolution Resolution.
   * @param {import("../proj/Projection.js").default} projection Projection.
   */
  loadFeatures(e, t, n) {
    const s = this.loadedExtentsRtree_, r = this.strategy_(e, t, n);
    for (let o = 0, a = r.length; o < a; ++o) {
      const l = r[o];
      s.forEachInExtent(
        l,
        /**
         * @param {{extent: import("../extent.js").Extent}} object Object.
         * @return {boolean} Contains.
         */
        function(h) {
          return ji(h.extent, l);
        }
      ) || (++this.loadingExtentsCount_, this.dispatchEvent(
        new ln(be.FEATURESLOADSTART)
      ), this.loader_.call(
        this,
        l,
        t,
        n,
        /**
         * @param {Array<FeatureType>} features Loaded features
         */
        (h) => {
          --this.loadingExtentsCount_, this.dispatchEvent(
            new ln(
              be.FEATURESLOADEND,
              void 0,
              h
            )
          );
        },
        () => {
          --this.loadingExtentsCount_, this.dispatchEvent(
            new ln(be.FEATURESLOADERROR)
          );
        }
      ), s.insert(l, { extent: l.slice() }));
    }
    this.loading = this.loader_.length < 4 ? !1 : this.loadingExtentsCount_ > 0;
  }
  /**
   * @override
   */
  refresh() {
    this.clear(!0), this.loadedExtentsRtree_.clear(), super.refresh();
  }
  /**
   * Remove an extent from the list of loaded extents.
   * @param {import("../extent.js").Extent} extent Extent.
   * @api
   */
  removeLoadedExtent(e) {
    const t = this.loadedExtentsRtree_, n = t.forEachInExtent(e, function(s) {
      if (Ri(s.extent, e))
        return s;
    });
    n && t.remove(n);
  }
  /**
   * Batch remove features from the source.  If you want to remove all features
   * at once, use the {@link module:ol/source/Vector~VectorSource#clear #clear()} method
   * instead.
   * @param {Array<FeatureType>} features Features to remove.
   * @api
   */
  removeFeatures(e) {
    let t = !1;
    for (let n = 0, s = e.length; n < s; ++n)
      t = this.removeFeatureInternal(e[n]) || t;
    t && this.changed();
  }
  /**
   * Remove a single feature from the source. If you want to batch remove
   * features, use the {@link module:ol/source/Vector~VectorSource#removeFeatures #removeFeatures()} method
   * instead.
   * @param {FeatureType} feature Feature to remove.
   * @api
   */
  removeFeature(e) {
    if (!e)
      return;
    this.removeFeatureInternal(e) && this.changed();
  }
  /**
   * Remove feature without firing a `change` event.
   * @param {FeatureType} feature Feature.
   * @return {boolean} True if the feature was removed, false if it was not found.
   * @protected
   */
  removeFeatureInternal(e) {
    const t = z(e);
    if (!(t in this.uidIndex_))
      return !1;
    t in this.nullGeometryFeatures_ ? delete this.nullGeometryFeatures_[t] : this.featuresRtree_ && this.featuresRtree_.remove(e), this.featureChangeKeys_[t]?.forEach(ce), delete this.featureChangeKeys_[t];
    const s = e.getId();
    if (s !== void 0) {
      const r = s.toString(), o = this.idIndex_[r];
      o === e ? delete this.idIndex_[r] : Array.isArray(o) && (o.splice(o.indexOf(e), 1), o.length === 1 && (this.idIndex_[r] = o[0]));
    }
    return delete this.uidIndex_[t], this.hasListener(be.REMOVEFEATURE) && this.dispatchEvent(
      new ln(be.REMOVEFEATURE, e)
    ), !0;
  }
  /**
   * Remove a feature from the id index.  Called internally when the feature id
   * may have changed.
   * @param {FeatureType} feature The feature.
   * @private
   */
  removeFromIdIndex_(e) {
    for (const t in this.idIndex_)
      if (this.idIndex_[t] === e) {
        delete this.idIndex_[t];
        break;
      }
  }
  /**
   * Set the new loader of the source. The next render cycle will use the
   * new loader.
   * @param {import("../featureloader.js").FeatureLoader} loader The loader to set.
   * @api
   */
  setLoader(e) {
    this.loader_ = e;
  }
  /**
   * Points the source to a new url. The next render cycle will use the new url.
   * @param {string|import("../featureloader.js").FeatureUrlFunction} url Url.
   * @api
   */
  setUrl(e) {
    ie(this.format_, "`format` must be set when `url` is set"), this.url_ = e, this.setLoader(cc(e, this.format_));
  }
  /**
   * @param {boolean} overlaps The source can have overlapping geometries.
   */
  setOverlaps(e) {
    this.overlaps_ = e, this.changed();
  }
}
const De = {
  ANIMATING: 0,
  INTERACTING: 1
}, $ = {
  BEGIN_GEOMETRY: 0,
  BEGIN_PATH: 1,
  CIRCLE: 2,
  CLOSE_PATH: 3,
  CUSTOM: 4,
  DRAW_CHARS: 5,
  DRAW_IMAGE: 6,
  END_GEOMETRY: 7,
  FILL: 8,
  MOVE_TO_LINE_TO: 9,
  SET_FILL_STYLE: 10,
  SET_STROKE_STYLE: 11,
  STROKE: 12
}, Qs = [$.FILL], xn = [$.STROKE], Dn = [$.BEGIN_PATH], fc = [$.CLOSE_PATH];
class Ns extends Yh {
  /**
   * @param {number} tolerance Tolerance.
   * @param {import("../../extent.js").Extent} maxExtent Maximum extent.
   * @param {number} resolution Resolution.
   * @param {number} pixelRatio Pixel ratio.
   */
  constructor(e, t, n, s) {
    super(), this.tolerance = e, this.maxExtent = t, this.pixelRatio = s, this.maxLineWidth = 0, this.resolution = n, this.beginGeometryInstruction1_ = null, this.beginGeometryInstruction2_ = null, this.bufferedMaxExtent_ = null, this.instructions = [], this.coordinates = [], this.tmpCoordinate_ = [], this.hitDetectionInstructions = [], this.state = /** @type {import("../canvas.js").FillStrokeState} */
    {};
  }
  /**
   * @protected
   * @param {Array<number>} dashArray Dash array.
   * @return {Array<number>} Dash array with pixel ratio applied
   */
  applyPixelRatio(e) {
    const t = this.pixelRatio;
    return t == 1 ? e : e.map(function(n) {
      return n * t;
    });
  }
  /**
   * @param {Array<number>} flatCoordinates Flat coordinates.
   * @param {number} stride Stride.
   * @protected
   * @return {number} My end
   */
  appendFlatPointCoordinates(e, t) {
    const n = this.getBufferedMaxExtent(), s = this.tmpCoordinate_, r = this.coordinates;
    let o = r.length;
    for (let a = 0, l = e.length; a < l; a += t)
      s[0] = e[a], s[1] = e[a + 1], Si(n, s) && (r[o++] = s[0], r[o++] = s[1]);
    return o;
  }
  /**
   * @param {Array<number>} flatCoordinates Flat coordinates.
   * @param {number} offset Offset.
   * @param {number} end End.
   * @param {number} stride Stride.
   * @param {boolean} closed Last input coordinate equals first.
   * @param {boolean} skipFirst Skip first coordinate.
   * @protected
   * @return {number} My end.
   */
  appendFlatLineCoordinates(e, t, n, s, r, o) {
    const a = this.coordinates;
    let l = a.length;
    const c = this.getBufferedMaxExtent();
    o && (t += s);
    let h = e[t], u = e[t + 1];
    const d = this.tmpCoordinate_;
    let f = !0, g, m, _;
    for (g = t + s; g < n; g += s)
      d[0] = e[g], d[1] = e[g + 1], _ = Xo(c, d), _ !== m ? (f && (a[l++] = h, a[l++] = u, f = !1), a[l++] = d[0], a[l++] = d[1]) : _ === Le.INTERSECTING ? (a[l++] = d[0], a[l++] = d[1], f = !1) : f = !0, h = d[0], u = d[1], m = _;
    return (r && f || g === t + s) && (a[l++] = h, a[l++] = u), l;
  }
  /**
   * @param {Array<number>} flatCoordinates Flat coordinates.
   * @param {number} offset Offset.
   * @param {Array<number>} ends Ends.
   * @param {number} stride Stride.
   * @param {Array<number>} builderEnds Builder ends.
   * @return {number} Offset.
   */
  drawCustomCoordinates_(e, t, n, s, r) {
    for (let o = 0, a = n.length; o < a; ++o) {
      const l = n[o], c = this.appendFlatLineCoordinates(
        e,
        t,
        l,
        s,
        !1,
        !1
      );
      r.push(c), t = l;
    }
    return t;
  }
  /**
   * @param {import("../../geom/SimpleGeometry.js").default} geometry Geometry.
   * @param {import("../../Feature.js").FeatureLike} feature Feature.
   * @param {Function} renderer Renderer.
   * @param {Function} hitDetectionRenderer Renderer.
   * @param {number} [index] Render order index.
   * @override
   */
  drawCustom(e, t, n, s, r) {
    this.beginGeometry(e, t, r);
    const o = e.getType(), a = e.getStride(), l = this.coordinates.length;
    let c, h, u, d, f;
    switch (o) {
      case "MultiPolygon":
        c = /** @type {import("../../geom/MultiPolygon.js").default} */
        e.getOrientedFlatCoordinates(), d = [];
        const g = (
          /** @type {import("../../geom/MultiPolygon.js").default} */
          e.getEndss()
        );
        f = 0;
        for (let m = 0, _ = g.length; m < _; ++m) {
          const p = [];
          f = this.drawCustomCoordinates_(
            c,
            f,
            g[m],
            a,
            p
          ), d.push(p);
        }
        this.instructions.push([
          $.CUSTOM,
          l,
          d,
          e,
          n,
          ta,
          r
        ]), this.hitDetectionInstructions.push([
          $.CUSTOM,
          l,
          d,
          e,
          s || n,
          ta,
          r
        ]);
        break;
      case "Polygon":
      case "MultiLineString":
        u = [], c = o == "Polygon" ? (
          /** @type {import("../../geom/Polygon.js").default} */
          e.getOrientedFlatCoordinates()
        ) : e.getFlatCoordinates(), f = this.drawCustomCoordinates_(
          c,
          0,
          /** @type {import("../../geom/Polygon.js").default|import("../../geom/MultiLineString.js").default} */
          e.getEnds(),
          a,
          u
        ), this.instructions.push([
          $.CUSTOM,
          l,
          u,
          e,
          n,
          gs,
          r
        ]), this.hitDetectionInstructions.push([
          $.CUSTOM,
          l,
          u,
          e,
          s || n,
          gs,
          r
        ]);
        break;
      case "LineString":
      case "Circle":
        c = e.getFlatCoordinates(), h = this.appendFlatLineCoordinates(
          c,
          0,
          c.length,
          a,
          !1,
          !1
        ), this.instructions.push([
          $.CUSTOM,
          l,
          h,
          e,
          n,
          pn,
          r
        ]), this.hitDetectionInstructions.push([
          $.CUSTOM,
          l,
          h,
          e,
          s || n,
          pn,
          r
        ]);
        break;
      case "MultiPoint":
        c = e.getFlatCoordinates(), h = this.appendFlatPointCoordinates(c, a), h > l && (this.instructions.push([
          $.CUSTOM,
          l,
          h,
          e,
          n,
          pn,
          r
        ]), this.hitDetectionInstructions.push([
          $.CUSTOM,
          l,
          h,
          e,
          s || n,
          pn,
          r
        ]));
        break;
      case "Point":
        c = e.getFlatCoordinates(), this.coordinates.push(c[0], c[1]), h = this.coordinates.length, this.instructions.push([
          $.CUSTOM,
          l,
          h,
          e,
          n,
          void 0,
          r
        ]), this.hitDetectionInstructions.push([
          $.CUSTOM,
          l,
          h,
          e,
          s || n,
          void 0,
          r
        ]);
        break;
    }
    this.endGeometry(t);
  }
  /**
   * @protected
   * @param {import("../../geom/Geometry").default|import("../Feature.js").default} geometry The geometry.
   * @param {import("../../Feature.js").FeatureLike} feature Feature.
   * @param {number} index Render order index
   */
  beginGeometry(e, t, n) {
    this.beginGeometryInstruction1_ = [
      $.BEGIN_GEOMETRY,
      t,
      0,
      e,
      n
    ], this.instructions.push(this.beginGeometryInstruction1_), this.beginGeometryInstruction2_ = [
      $.BEGIN_GEOMETRY,
      t,
      0,
      e,
      n
    ], this.hitDetectionInstructions.push(this.beginGeometryInstruction2_);
  }
  /**
   * @return {import("../canvas.js").SerializableInstructions} the serializable instructions.
   */
  finish() {
    return {
      instructions: this.instructions,
      hitDetectionInstructions: this.hitDetectionInstructions,
      coordinates: this.coordinates
    };
  }
  /**
   * Reverse the hit detection instructions.
   */
  reverseHitDetectionInstructions() {
    const e = this.hitDetectionInstructions;
    e.reverse();
    let t;
    const n = e.length;
    let s, r, o = -1;
    for (t = 0; t < n; ++t)
      s = e[t], r = /** @type {import("./Instruction.js").default} */
      s[0], r == $.END_GEOMETRY ? o = t : r == $.BEGIN_GEOMETRY && (s[2] = t, Ff(this.hitDetectionInstructions, o, t), o = -1);
  }
  /**
   * @param {import("../../style/Fill.js").default} fillStyle Fill style.
   * @param {import('../canvas.js').FillStrokeState} [state] State.
   * @return {import('../canvas.js').FillStrokeState} State.
   */
  fillStyleToState(e, t = (
    /** @type {import('../canvas.js').FillStrokeState} */
    {}
  )) {
    if (e) {
      const n = e.getColor();
      t.fillPatternScale = n && typeof n == "object" && "src" in n ? this.pixelRatio : 1, t.fillStyle = kt(
        n || et
      );
    } else
      t.fillStyle = void 0;
    return t;
  }
  /**
   * @param {import("../../style/Stroke.js").default} strokeStyle Stroke style.
   * @param {import("../canvas.js").FillStrokeState} state State.
   * @return {import("../canvas.js").FillStrokeState} State.
   */
  strokeStyleToState(e, t = (
    /** @type {import('../canvas.js').FillStrokeState} */
    {}
  )) {
    if (e) {
      const n = e.getColor();
      t.strokeStyle = kt(
        n || xs
      );
      const s = e.getLineCap();
      t.lineCap = s !== void 0 ? s : Ai;
      const r = e.getLineDash();
      t.lineDash = r ? r.slice() : sn;
      const o = e.getLineDashOffset();
      t.lineDashOffset = o || rn;
      const a = e.getLineJoin();
      t.lineJoin = a !== void 0 ? a : Fi;
      const l = e.getWidth();
      t.lineWidth = l !== void 0 ? l : vs;
      const c = e.getMiterLimit();
      t.miterLimit = c !== void 0 ? c : ys, t.lineWidth > this.maxLineWidth && (this.maxLineWidth = t.lineWidth, this.bufferedMaxExtent_ = null);
    } else
      t.strokeStyle = void 0, t.lineCap = void 0, t.lineDash = null, t.lineDashOffset = void 0, t.lineJoin = void 0, t.lineWidth = void 0, t.miterLimit = void 0;
    return t;
  }
  /**
   * @param {import("../../style/Fill.js").default} fillStyle Fill style.
   * @param {import("../../style/Stroke.js").default} strokeStyle Stroke style.
   * @override
   */
  setFillStrokeStyle(e, t) {
    const n = this.state;
    this.fillStyleToState(e, n), this.strokeStyleToState(t, n);
  }
  /**
   * @param {import("../canvas.js").FillStrokeState} state State.
   * @return {Array<*>} Fill instruction.
   */
  createFill(e) {
    const t = e.fillStyle, n = [$.SET_FILL_STYLE, t];
    return typeof t != "string" && n.push(e.fillPatternScale), n;
  }
  /**
   * @param {import("../canvas.js").FillStrokeState} state State.
   */
  applyStroke(e) {
    this.instructions.push(this.createStroke(e));
  }
  /**
   * @param {import("../canvas.js").FillStrokeState} state State.
   * @return {Array<*>} Stroke instruction.
   */
  createStroke(e) {
    return [
      $.SET_STROKE_STYLE,
      e.strokeStyle,
      e.lineWidth * this.pixelRatio,
      e.lineCap,
      e.lineJoin,
      e.miterLimit,
      e.lineDash ? this.applyPixelRatio(e.lineDash) : null,
      e.lineDashOffset * this.pixelRatio
    ];
  }
  /**
   * @param {import("../canvas.js").FillStrokeState} state State.
   * @param {function(this:CanvasBuilder, import("../canvas.js").FillStrokeState):Array<*>} createFill Create fill.
   */
  updateFillStyle(e, t) {
    const n = e.fillStyle;
    (typeof n != "string" || e.currentFillStyle != n) && (this.instructions.push(t.call(this, e)), e.currentFillStyle = n);
  }
  /**
   * @param {import("../canvas.js").FillStrokeState} state State.
   * @param {function(this:CanvasBuilder, import("../canvas.js").FillStrokeState): void} applyStroke Apply stroke.
   */
  updateStrokeStyle(e, t) {
    const n = e.strokeStyle, s = e.lineCap, r = e.lineDash, o = e.lineDashOffset, a = e.lineJoin, l = e.lineWidth, c = e.miterLimit;
    (e.currentStrokeStyle != n || e.currentLineCap != s || r != e.currentLineDash && !$t(e.currentLineDash, r) || e.currentLineDashOffset != o || e.currentLineJoin != a || e.currentLineWidth != l || e.currentMiterLimit != c) && (t.call(this, e), e.currentStrokeStyle = n, e.currentLineCap = s, e.currentLineDash = r, e.currentLineDashOffset = o, e.currentLineJoin = a, e.currentLineWidth = l, e.currentMiterLimit = c);
  }
  /**
   * @param {import("../../Feature.js").FeatureLike} feature Feature.
   */
  endGeometry(e) {
    this.beginGeometryInstruction1_[2] = this.instructions.length, this.beginGeometryInstruction1_ = null, this.beginGeometryInstruction2_[2] = this.hitDetectionInstructions.length, this.beginGeometryInstruction2_ = null;
    const t = [$.END_GEOMETRY, e];
    this.instructions.push(t), this.hitDetectionInstructions.push(t);
  }
  /**
   * Get the buffered rendering extent.  Rendering will be clipped to the extent
   * provided to the constructor.  To account for symbolizers that may intersect
   * this extent, we calculate a buffered extent (e.g. based on stroke width).
   * @return {import("../../extent.js").Extent} The buffered rendering extent.
   * @protected
   */
  getBufferedMaxExtent() {
    if (!this.bufferedMaxExtent_ && (this.bufferedMaxExtent_ = oh(this.maxExtent), this.maxLineWidth > 0)) {
      const e = this.resolution * (this.maxLineWidth + 1) / 2;
      Ps(this.bufferedMaxExtent_, e, this.bufferedMaxExtent_);
    }
    return this.bufferedMaxExtent_;
  }
}
class s_ extends Ns {
  /**
   * @param {number} tolerance Tolerance.
   * @param {import("../../extent.js").Extent} maxExtent Maximum extent.
   * @param {number} resolution Resolution.
   * @param {number} pixelRatio Pixel ratio.
   */
  constructor(e, t, n, s) {
    super(e, t, n, s), this.hitDetectionImage_ = null, this.image_ = null, this.imagePixelRatio_ = void 0, this.anchorX_ = void 0, this.anchorY_ = void 0, this.height_ = void 0, this.opacity_ = void 0, this.originX_ = void 0, this.originY_ = void 0, this.rotateWithView_ = void 0, this.rotation_ = void 0, this.scale_ = void 0, this.width_ = void 0, this.declutterMode_ = void 0, this.declutterImageWithText_ = void 0;
  }
  /**
   * @param {import("../../geom/Point.js").default|import("../Feature.js").default} pointGeometry Point geometry.
   * @param {import("../../Feature.js").FeatureLike} feature Feature.
   * @param {number} [index] Render order index.
   * @override
   */
  drawPoint(e, t, n) {
    if (!this.image_ || this.maxExtent && !Si(this.maxExtent, e.getFlatCoordinates()))
      return;
    this.beginGeometry(e, t, n);
    const s = e.getFlatCoordinates(), r = e.getStride(), o = this.coordinates.length, a = this.appendFlatPointCoordinates(s, r);
    this.instructions.push([
      $.DRAW_IMAGE,
      o,
      a,
      this.image_,
      // Remaining arguments to DRAW_IMAGE are in alphabetical order
      this.anchorX_ * this.imagePixelRatio_,
      this.anchorY_ * this.imagePixelRatio_,
      Math.ceil(this.height_ * this.imagePixelRatio_),
      this.opacity_,
      this.originX_ * this.imagePixelRatio_,
      this.originY_ * this.imagePixelRatio_,
      this.rotateWithView_,
      this.rotation_,
      [
        this.scale_[0] * this.pixelRatio / this.imagePixelRatio_,
        this.scale_[1] * this.pixelRatio / this.imagePixelRatio_
      ],
      Math.ceil(this.width_ * this.imagePixelRatio_),
      this.declutterMode_,
      this.declutterImageWithText_
    ]), this.hitDetectionInstructions.push([
      $.DRAW_IMAGE,
      o,
      a,
      this.hitDetectionImage_,
      // Remaining arguments to DRAW_IMAGE are in alphabetical order
      this.anchorX_,
      this.anchorY_,
      this.height_,
      1,
      this.originX_,
      this.originY_,
      this.rotateWithView_,
      this.rotation_,
      this.scale_,
      this.width_,
      this.declutterMode_,
      this.declutterImageWithText_
    ]), this.endGeometry(t);
  }
  /**
   * @param {import("../../geom/MultiPoint.js").default|import("../Feature.js").default} multiPointGeometry MultiPoint geometry.
   * @param {import("../../Feature.js").FeatureLike} feature Feature.
   * @param {number} [index] Render order index.
   * @override
   */
  drawMultiPoint(e, t, n) {
    if (!this.image_)
      return;
    this.beginGeometry(e, t, n);
    const s = e.getFlatCoordinates(), r = [];
    for (let l = 0, c = s.length; l < c; l += e.getStride())
      (!this.maxExtent || Si(this.maxExtent, s.slice(l, l + 2))) && r.push(
        s[l],
        s[l + 1]
      );
    const o = this.coordinates.length, a = this.appendFlatPointCoordinates(r, 2);
    this.instructions.push([
      $.DRAW_IMAGE,
      o,
      a,
      this.image_,
      // Remaining arguments to DRAW_IMAGE are in alphabetical order
      this.anchorX_ * this.imagePixelRatio_,
      this.anchorY_ * this.imagePixelRatio_,
      Math.ceil(this.height_ * this.imagePixelRatio_),
      this.opacity_,
      this.originX_ * this.imagePixelRatio_,
      this.originY_ * this.imagePixelRatio_,
      this.rotateWithView_,
      this.rotation_,
      [
        this.scale_[0] * this.pixelRatio / this.imagePixelRatio_,
        this.scale_[1] * this.pixelRatio / this.imagePixelRatio_
      ],
      Math.ceil(this.width_ * this.imagePixelRatio_),
      this.declutterMode_,
      this.declutterImageWithText_
    ]), this.hitDetectionInstructions.push([
      $.DRAW_IMAGE,
      o,
      a,
      this.hitDetectionImage_,
      // Remaining arguments to DRAW_IMAGE are in alphabetical order
      this.anchorX_,
      this.anchorY_,
      this.height_,
      1,
      this.originX_,
      this.originY_,
      this.rotateWithView_,
      this.rotation_,
      this.scale_,
      this.width_,
      this.declutterMode_,
      this.declutterImageWithText_
    ]), this.endGeometry(t);
  }
  /**
   * @return {import("../canvas.js").SerializableInstructions} the serializable instructions.
   * @override
   */
  finish() {
    return this.reverseHitDetectionInstructions(), this.anchorX_ = void 0, this.anchorY_ = void 0, this.hitDetectionImage_ = null, this.image_ = null, this.imagePixelRatio_ = void 0, this.height_ = void 0, this.scale_ = void 0, this.opacity_ = void 0, this.originX_ = void 0, this.originY_ = void 0, this.rotateWithView_ = void 0, this.rotation_ = void 0, this.width_ = void 0, super.finish();
  }
  /**
   * @param {import("../../style/Image.js").default} imageStyle Image style.
   * @param {Object} [sharedData] Shared data.
   * @override
   */
  setImageStyle(e, t) {
    const n = e.getAnchor(), s = e.getSize(), r = e.getOrigin();
    this.imagePixelRatio_ = e.getPixelRatio(this.pixelRatio), this.anchorX_ = n[0], this.anchorY_ = n[1], this.hitDetectionImage_ = e.getHitDetectionImage(), this.image_ = e.getImage(this.pixelRatio), this.height_ = s[1], this.opacity_ = e.getOpacity(), this.originX_ = r[0], this.originY_ = r[1], this.rotateWithView_ = e.getRotateWithView(), this.rotation_ = e.getRotation(), this.scale_ = e.getScaleArray(), this.width_ = s[0], this.declutterMode_ = e.getDeclutterMode(), this.declutterImageWithText_ = t;
  }
}
class r_ extends Ns {
  /**
   * @param {number} tolerance Tolerance.
   * @param {import("../../extent.js").Extent} maxExtent Maximum extent.
   * @param {number} resolution Resolution.
   * @param {number} pixelRatio Pixel ratio.
   */
  constructor(e, t, n, s) {
    super(e, t, n, s);
  }
  /**
   * @param {Array<number>} flatCoordinates Flat coordinates.
   * @param {number} offset Offset.
   * @param {number} end End.
   * @param {number} stride Stride.
   * @private
   * @return {number} end.
   */
  drawFlatCoordinates_(e, t, n, s) {
    const r = this.coordinates.length, o = this.appendFlatLineCoordinates(
      e,
      t,
      n,
      s,
      !1,
      !1
    ), a = [
      $.MOVE_TO_LINE_TO,
      r,
      o
    ];
    return this.instructions.push(a), this.hitDetectionInstructions.push(a), n;
  }
  /**
   * @param {import("../../geom/LineString.js").default|import("../Feature.js").default} lineStringGeometry Line string geometry.
   * @param {import("../../Feature.js").FeatureLike} feature Feature.
   * @param {number} [index] Render order index.
   * @override
   */
  drawLineString(e, t, n) {
    const s = this.state, r = s.strokeStyle, o = s.lineWidth;
    if (r === void 0 || o === void 0)
      return;
    this.updateStrokeStyle(s, this.applyStroke), this.beginGeometry(e, t, n), this.hitDetectionInstructions.push(
      [
        $.SET_STROKE_STYLE,
        s.strokeStyle,
        s.lineWidth,
        s.lineCap,
        s.lineJoin,
        s.miterLimit,
        sn,
        rn
      ],
      Dn
    );
    const a = e.getFlatCoordinates(), l = e.getStride();
    this.drawFlatCoordinates_(
      a,
      0,
      a.length,
      l
    ), this.hitDetectionInstructions.push(xn), this.endGeometry(t);
  }
  /**
   * @param {import("../../geom/MultiLineString.js").default|import("../Feature.js").default} multiLineStringGeometry MultiLineString geometry.
   * @param {import("../../Feature.js").FeatureLike} feature Feature.
   * @param {number} [index] Render order index.
   * @override
   */
  drawMultiLineString(e, t, n) {
    const s = this.state, r = s.strokeStyle, o = s.lineWidth;
    if (r === void 0 || o === void 0)
      return;
    this.updateStrokeStyle(s, this.applyStroke), this.beginGeometry(e, t, n), this.hitDetectionInstructions.push(
      [
        $.SET_STROKE_STYLE,
        s.strokeStyle,
        s.lineWidth,
        s.lineCap,
        s.lineJoin,
        s.miterLimit,
        sn,
        rn
      ],
      Dn
    );
    const a = e.getEnds(), l = e.getFlatCoordinates(), c = e.getStride();
    let h = 0;
    for (let u = 0, d = a.length; u < d; ++u)
      h = this.drawFlatCoordinates_(
        l,
        h,
        /** @type {number} */
        a[u],
        c
      );
    this.hitDetectionInstructions.push(xn), this.endGeometry(t);
  }
  /**
   * @return {import("../canvas.js").SerializableInstructions} the serializable instructions.
   * @override
   */
  finish() {
    const e = this.state;
    return e.lastStroke != null && e.lastStroke != this.coordinates.length && this.instructions.push(xn), this.reverseHitDetectionInstructions(), this.state = null, super.finish();
  }
  /**
   * @param {import("../canvas.js").FillStrokeState} state State.
   * @override
   */
  applyStroke(e) {
    e.lastStroke != null && e.lastStroke != this.coordinates.length && (this.instructions.push(xn), e.lastStroke = this.coordinates.length), e.lastStroke = 0, super.applyStroke(e), this.instructions.push(Dn);
  }
}
class gc extends Ns {
  /**
   * @param {number} tolerance Tolerance.
   * @param {import("../../extent.js").Extent} maxExtent Maximum extent.
   * @param {number} resolution Resolution.
   * @param {number} pixelRatio Pixel ratio.
   */
  constructor(e, t, n, s) {
    super(e, t, n, s);
  }
  /**
   * @param {Array<number>} flatCoordinates Flat coordinates.
   * @param {number} offset Offset.
   * @param {Array<number>} ends Ends.
   * @param {number} stride Stride.
   * @private
   * @return {number} End.
   */
  drawFlatCoordinatess_(e, t, n, s) {
    const r = this.state, o = r.fillStyle !== void 0, a = r.strokeStyle !== void 0, l = n.length;
    this.instructions.push(Dn), this.hitDetectionInstructions.push(Dn);
    for (let c = 0; c < l; ++c) {
      const h = n[c], u = this.coordinates.length, d = this.appendFlatLineCoordinates(
        e,
        t,
        h,
        s,
        !0,
        !a
      ), f = [
        $.MOVE_TO_LINE_TO,
        u,
        d
      ];
      this.instructions.push(f), this.hitDetectionInstructions.push(f), a && (this.instructions.push(fc), this.hitDetectionInstructions.push(fc)), t = h;
    }
    return o && (this.instructions.push(Qs), this.hitDetectionInstructions.push(Qs)), a && (this.instructions.push(xn), this.hitDetectionInstructions.push(xn)), t;
  }
  /**
   * @param {import("../../geom/Circle.js").default} circleGeometry Circle geometry.
   * @param {import("../../Feature.js").default} feature Feature.
   * @param {number} [index] Render order index.
   * @override
   */
  drawCircle(e, t, n) {
    const s = this.state, r = s.fillStyle, o = s.strokeStyle;
    if (r === void 0 && o === void 0)
      return;
    this.setFillStrokeStyles_(), this.beginGeometry(e, t, n), s.fillStyle !== void 0 && this.hitDetectionInstructions.push([
      $.SET_FILL_STYLE,
      et
    ]), s.strokeStyle !== void 0 && this.hitDetectionInstructions.push([
      $.SET_STROKE_STYLE,
      s.strokeStyle,
      s.lineWidth,
      s.lineCap,
      s.lineJoin,
      s.miterLimit,
      sn,
      rn
    ]);
    const a = e.getFlatCoordinates(), l = e.getStride(), c = this.coordinates.length;
    this.appendFlatLineCoordinates(
      a,
      0,
      a.length,
      l,
      !1,
      !1
    );
    const h = [$.CIRCLE, c];
    this.instructions.push(Dn, h), this.hitDetectionInstructions.push(Dn, h), s.fillStyle !== void 0 && (this.instructions.push(Qs), this.hitDetectionInstructions.push(Qs)), s.strokeStyle !== void 0 && (this.instructions.push(xn), this.hitDetectionInstructions.push(xn)), this.endGeometry(t);
  }
  /**
   * @param {import("../../geom/Polygon.js").default|import("../Feature.js").default} polygonGeometry Polygon geometry.
   * @param {import("../../Feature.js").FeatureLike} feature Feature.
   * @param {number} [index] Render order index.
   * @override
   */
  drawPolygon(e, t, n) {
    const s = this.state, r = s.fillStyle, o = s.strokeStyle;
    if (r === void 0 && o === void 0)
      return;
    this.setFillStrokeStyles_(), this.beginGeometry(e, t, n), s.fillStyle !== void 0 && this.hitDetectionInstructions.push([
      $.SET_FILL_STYLE,
      et
    ]), s.strokeStyle !== void 0 && this.hitDetectionInstructions.push([
      $.SET_STROKE_STYLE,
      s.strokeStyle,
      s.lineWidth,
      s.lineCap,
      s.lineJoin,
      s.miterLimit,
      sn,
      rn
    ]);
    const a = e.getEnds(), l = e.getOrientedFlatCoordinates(), c = e.getStride();
    this.drawFlatCoordinatess_(
      l,
      0,
      /** @type {Array<number>} */
      a,
      c
    ), this.endGeometry(t);
  }
  /**
   * @param {import("../../geom/MultiPolygon.js").default} multiPolygonGeometry MultiPolygon geometry.
   * @param {import("../../Feature.js").FeatureLike} feature Feature.
   * @param {number} [index] Render order index.
   * @override
   */
  drawMultiPolygon(e, t, n) {
    const s = this.state, r = s.fillStyle, o = s.strokeStyle;
    if (r === void 0 && o === void 0)
      return;
    this.setFillStrokeStyles_(), this.beginGeometry(e, t, n), s.fillStyle !== void 0 && this.hitDetectionInstructions.push([
      $.SET_FILL_STYLE,
      et
    ]), s.strokeStyle !== void 0 && this.hitDetectionInstructions.push([
      $.SET_STROKE_STYLE,
      s.strokeStyle,
      s.lineWidth,
      s.lineCap,
      s.lineJoin,
      s.miterLimit,
      sn,
      rn
    ]);
    const a = e.getEndss(), l = e.getOrientedFlatCoordinates(), c = e.getStride();
    let h = 0;
    for (let u = 0, d = a.length; u < d; ++u)
      h = this.drawFlatCoordinatess_(
        l,
        h,
        a[u],
        c
      );
    this.endGeometry(t);
  }
  /**
   * @return {import("../canvas.js").SerializableInstructions} the serializable instructions.
   * @override
   */
  finish() {
    this.reverseHitDetectionInstructions(), this.state = null;
    const e = this.tolerance;
    if (e !== 0) {
      const t = this.coordinates;
      for (let n = 0, s = t.length; n < s; ++n)
        t[n] = An(t[n], e);
    }
    return super.finish();
  }
  /**
   * @private
   */
  setFillStrokeStyles_() {
    const e = this.state;
    this.updateFillStyle(e, this.createFill), this.updateStrokeStyle(e, this.applyStroke);
  }
}
function o_(i, e, t, n, s) {
  const r = [];
  let o = t, a = 0, l = e.slice(t, 2);
  for (; a < i && o + s < n; ) {
    const [c, h] = l.slice(-2), u = e[o + s], d = e[o + s + 1], f = Math.sqrt(
      (u - c) * (u - c) + (d - h) * (d - h)
    );
    if (a += f, a >= i) {
      const g = (i - a + f) / f, m = at(c, u, g), _ = at(h, d, g);
      l.push(m, _), r.push(l), l = [m, _], a == i && (o += s), a = 0;
    } else if (a < i)
      l.push(
        e[o + s],
        e[o + s + 1]
      ), o += s;
    else {
      const g = f - a, m = at(c, u, g / f), _ = at(h, d, g / f);
      l.push(m, _), r.push(l), l = [m, _], a = 0, o += s;
    }
  }
  return a > 0 && r.push(l), r;
}
function a_(i, e, t, n, s) {
  let r = t, o = t, a = 0, l = 0, c = t, h, u, d, f, g, m, _, p, x, v;
  for (u = t; u < n; u += s) {
    const E = e[u], y = e[u + 1];
    g !== void 0 && (x = E - g, v = y - m, f = Math.sqrt(x * x + v * v), _ !== void 0 && (l += d, h = Math.acos((_ * x + p * v) / (d * f)), h > i && (l > a && (a = l, r = c, o = u), l = 0, c = u - s)), d = f, _ = x, p = v), g = E, m = y;
  }
  return l += f, l > a ? [c, u] : [r, o];
}
const Cr = {
  left: 0,
  center: 0.5,
  right: 1,
  top: 0,
  middle: 0.5,
  hanging: 0.2,
  alphabetic: 0.8,
  ideographic: 0.8,
  bottom: 1
};
class l_ extends Ns {
  /**
   * @param {number} tolerance Tolerance.
   * @param {import("../../extent.js").Extent} maxExtent Maximum extent.
   * @param {number} resolution Resolution.
   * @param {number} pixelRatio Pixel ratio.
   */
  constructor(e, t, n, s) {
    super(e, t, n, s), this.labels_ = null, this.text_ = "", this.textOffsetX_ = 0, this.textOffsetY_ = 0, this.textRotateWithView_ = void 0, this.textKeepUpright_ = void 0, this.textRotation_ = 0, this.textFillState_ = null, this.fillStates = {}, this.fillStates[et] = { fillStyle: et }, this.textStrokeState_ = null, this.strokeStates = {}, this.textState_ = /** @type {import("../canvas.js").TextState} */
    {}, this.textStates = {}, this.textKey_ = "", this.fillKey_ = "", this.strokeKey_ = "", this.declutterMode_ = void 0, this.declutterImageWithText_ = void 0;
  }
  /**
   * @return {import("../canvas.js").SerializableInstructions} the serializable instructions.
   * @override
   */
  finish() {
    const e = super.finish();
    return e.textStates = this.textStates, e.fillStates = this.fillStates, e.strokeStates = this.strokeStates, e;
  }
  /**
   * @param {import("../../geom/SimpleGeometry.js").default|import("../Feature.js").default} geometry Geometry.
   * @param {import("../../Feature.js").FeatureLike} feature Feature.
   * @param {number} [index] Render order index.
   * @override
   */
  drawText(e, t, n) {
    const s = this.textFillState_, r = this.textStrokeState_, o = this.textState_;
    if (this.text_ === "" || !o || !s && !r)
      return;
    const a = this.coordinates;
    let l = a.length;
    const c = e.getType();
    let h = null, u = e.getStride();
    if (o.placement === "line" && (c == "LineString" || c == "MultiLineString" || c == "Polygon" || c == "MultiPolygon")) {
      if (!Ke(this.maxExtent, e.getExtent()))
        return;
      let d;
      if (h = e.getFlatCoordinates(), c == "LineString")
        d = [h.length];
      else if (c == "MultiLineString")
        d = /** @type {import("../../geom/MultiLineString.js").default} */
        e.getEnds();
      else if (c == "Polygon")
        d = /** @type {import("../../geom/Polygon.js").default} */
        e.getEnds().slice(0, 1);
      else if (c == "MultiPolygon") {
        const _ = (
          /** @type {import("../../geom/MultiPolygon.js").default} */
          e.getEndss()
        );
        d = [];
        for (let p = 0, x = _.length; p < x; ++p)
          d.push(_[p][0]);
      }
      this.beginGeometry(e, t, n);
      const f = o.repeat, g = f ? void 0 : o.textAlign;
      let m = 0;
      for (let _ = 0, p = d.length; _ < p; ++_) {
        let x;
        f ? x = o_(
          f * this.resolution,
          h,
          m,
          d[_],
          u
        ) : x = [h.slice(m, d[_])];
        for (let v = 0, E = x.length; v < E; ++v) {
          const y = x[v];
          let T = 0, S = y.length;
          if (g == null) {
            const P = a_(
              o.maxAngle,
              y,
              0,
              y.length,
              2
            );
            T = P[0], S = P[1];
          }
          for (let P = T; P < S; P += u)
            a.push(y[P], y[P + 1]);
          const w = a.length;
          m = d[_], this.drawChars_(l, w), l = w;
        }
      }
      this.endGeometry(t);
    } else {
      let d = o.overflow ? null : [];
      switch (c) {
        case "Point":
        case "MultiPoint":
          h = /** @type {import("../../geom/MultiPoint.js").default} */
          e.getFlatCoordinates();
          break;
        case "LineString":
          h = /** @type {import("../../geom/LineString.js").default} */
          e.getFlatMidpoint();
          break;
        case "Circle":
          h = /** @type {import("../../geom/Circle.js").default} */
          e.getCenter();
          break;
        case "MultiLineString":
          h = /** @type {import("../../geom/MultiLineString.js").default} */
          e.getFlatMidpoints(), u = 2;
          break;
        case "Polygon":
          h = /** @type {import("../../geom/Polygon.js").default} */
          e.getFlatInteriorPoint(), o.overflow || d.push(h[2] / this.resolution), u = 3;
          break;
        case "MultiPolygon":
          const E = (
            /** @type {import("../../geom/MultiPolygon.js").default} */
            e.getFlatInteriorPoints()
          );
          h = [];
          for (let y = 0, T = E.length; y < T; y += 3)
            o.overflow || d.push(E[y + 2] / this.resolution), h.push(E[y], E[y + 1]);
          if (h.length === 0)
            return;
          u = 2;
          break;
      }
      const f = this.appendFlatPointCoordinates(h, u);
      if (f === l)
        return;
      if (d && (f - l) / 2 !== h.length / u) {
        let E = l / 2;
        d = d.filter((y, T) => {
          const S = a[(E + T) * 2] === h[T * u] && a[(E + T) * 2 + 1] === h[T * u + 1];
          return S || --E, S;
        });
      }
      this.saveTextStates_();
      const g = o.backgroundFill ? this.createFill(this.fillStyleToState(o.backgroundFill)) : null, m = o.backgroundStroke ? this.createStroke(this.strokeStyleToState(o.backgroundStroke)) : null;
      this.beginGeometry(e, t, n);
      let _ = o.padding;
      if (_ != Mn && (o.scale[0] < 0 || o.scale[1] < 0)) {
        let E = o.padding[0], y = o.padding[1], T = o.padding[2], S = o.padding[3];
        o.scale[0] < 0 && (y = -y, S = -S), o.scale[1] < 0 && (E = -E, T = -T), _ = [E, y, T, S];
      }
      const p = this.pixelRatio;
      this.instructions.push([
        $.DRAW_IMAGE,
        l,
        f,
        null,
        NaN,
        NaN,
        NaN,
        1,
        0,
        0,
        this.textRotateWithView_,
        this.textRotation_,
        [1, 1],
        NaN,
        this.declutterMode_,
        this.declutterImageWithText_,
        _ == Mn ? Mn : _.map(function(E) {
          return E * p;
        }),
        g,
        m,
        this.text_,
        this.textKey_,
        this.strokeKey_,
        this.fillKey_,
        this.textOffsetX_,
        this.textOffsetY_,
        d
      ]);
      const x = 1 / p, v = g ? g.slice(0) : null;
      v && (v[1] = et), this.hitDetectionInstructions.push([
        $.DRAW_IMAGE,
        l,
        f,
        null,
        NaN,
        NaN,
        NaN,
        1,
        0,
        0,
        this.textRotateWithView_,
        this.textRotation_,
        [x, x],
        NaN,
        this.declutterMode_,
        this.declutterImageWithText_,
        _,
        v,
        m,
        this.text_,
        this.textKey_,
        this.strokeKey_,
        this.fillKey_ ? et : this.fillKey_,
        this.textOffsetX_,
        this.textOffsetY_,
        d
      ]), this.endGeometry(t);
    }
  }
  /**
   * @private
   */
  saveTextStates_() {
    const e = this.textStrokeState_, t = this.textState_, n = this.textFillState_, s = this.strokeKey_;
    e && (s in this.strokeStates || (this.strokeStates[s] = {
      strokeStyle: e.strokeStyle,
      lineCap: e.lineCap,
      lineDashOffset: e.lineDashOffset,
      lineWidth: e.lineWidth,
      lineJoin: e.lineJoin,
      miterLimit: e.miterLimit,
      lineDash: e.lineDash
    }));
    const r = this.textKey_;
    r in this.textStates || (this.textStates[r] = {
      font: t.font,
      textAlign: t.textAlign || Es,
      justify: t.justify,
      textBaseline: t.textBaseline || vr,
      scale: t.scale
    });
    const o = this.fillKey_;
    n && (o in this.fillStates || (this.fillStates[o] = {
      fillStyle: n.fillStyle
    }));
  }
  /**
   * @private
   * @param {number} begin Begin.
   * @param {number} end End.
   */
  drawChars_(e, t) {
    const n = this.textStrokeState_, s = this.textState_, r = this.strokeKey_, o = this.textKey_, a = this.fillKey_;
    this.saveTextStates_();
    const l = this.pixelRatio, c = Cr[s.textBaseline], h = this.textOffsetY_ * l, u = this.text_, d = n ? n.lineWidth * Math.abs(s.scale[0]) / 2 : 0;
    this.instructions.push([
      $.DRAW_CHARS,
      e,
      t,
      c,
      s.overflow,
      a,
      s.maxAngle,
      l,
      h,
      r,
      d * l,
      u,
      o,
      1,
      this.declutterMode_,
      this.textKeepUpright_
    ]), this.hitDetectionInstructions.push([
      $.DRAW_CHARS,
      e,
      t,
      c,
      s.overflow,
      a && et,
      s.maxAngle,
      l,
      h,
      r,
      d * l,
      u,
      o,
      1 / l,
      this.declutterMode_,
      this.textKeepUpright_
    ]);
  }
  /**
   * @param {import("../../style/Text.js").default} textStyle Text style.
   * @param {Object} [sharedData] Shared data.
   * @override
   */
  setTextStyle(e, t) {
    let n, s, r;
    if (!e)
      this.text_ = "";
    else {
      const o = e.getFill();
      o ? (s = this.textFillState_, s || (s = /** @type {import("../canvas.js").FillState} */
      {}, this.textFillState_ = s), s.fillStyle = kt(
        o.getColor() || et
      )) : (s = null, this.textFillState_ = s);
      const a = e.getStroke();
      if (!a)
        r = null, this.textStrokeState_ = r;
      else {
        r = this.textStrokeState_, r || (r = /** @type {import("../canvas.js").StrokeState} */
        {}, this.textStrokeState_ = r);
        const m = a.getLineDash(), _ = a.getLineDashOffset(), p = a.getWidth(), x = a.getMiterLimit();
        r.lineCap = a.getLineCap() || Ai, r.lineDash = m ? m.slice() : sn, r.lineDashOffset = _ === void 0 ? rn : _, r.lineJoin = a.getLineJoin() || Fi, r.lineWidth = p === void 0 ? vs : p, r.miterLimit = x === void 0 ? ys : x, r.strokeStyle = kt(
          a.getColor() || xs
        );
      }
      n = this.textState_;
      const l = e.getFont() || $h;
      wg(l);
      const c = e.getScaleArray();
      n.overflow = e.getOverflow(), n.font = l, n.maxAngle = e.getMaxAngle(), n.placement = e.getPlacement(), n.textAlign = e.getTextAlign(), n.repeat = e.getRepeat(), n.justify = e.getJustify(), n.textBaseline = e.getTextBaseline() || vr, n.backgroundFill = e.getBackgroundFill(), n.backgroundStroke = e.getBackgroundStroke(), n.padding = e.getPadding() || Mn, n.scale = c === void 0 ? [1, 1] : c;
      const h = e.getOffsetX(), u = e.getOffsetY(), d = e.getRotateWithView(), f = e.getKeepUpright(), g = e.getRotation();
      this.text_ = e.getText() || "", this.textOffsetX_ = h === void 0 ? 0 : h, this.textOffsetY_ = u === void 0 ? 0 : u, this.textRotateWithView_ = d === void 0 ? !1 : d, this.textKeepUpright_ = f === void 0 ? !0 : f, this.textRotation_ = g === void 0 ? 0 : g, this.strokeKey_ = r ? (typeof r.strokeStyle == "string" ? r.strokeStyle : z(r.strokeStyle)) + r.lineCap + r.lineDashOffset + "|" + r.lineWidth + r.lineJoin + r.miterLimit + "[" + r.lineDash.join() + "]" : "", this.textKey_ = n.font + n.scale + (n.textAlign || "?") + (n.repeat || "?") + (n.justify || "?") + (n.textBaseline || "?"), this.fillKey_ = s && s.fillStyle ? typeof s.fillStyle == "string" ? s.fillStyle : "|" + z(s.fillStyle) : "";
    }
    this.declutterMode_ = e.getDeclutterMode(), this.declutterImageWithText_ = t;
  }
}
const c_ = {
  Circle: gc,
  Default: Ns,
  Image: s_,
  LineString: r_,
  Polygon: gc,
  Text: l_
};
class h_ {
  /**
   * @param {number} tolerance Tolerance.
   * @param {import("../../extent.js").Extent} maxExtent Max extent.
   * @param {number} resolution Resolution.
   * @param {number} pixelRatio Pixel ratio.
   */
  constructor(e, t, n, s) {
    this.tolerance_ = e, this.maxExtent_ = t, this.pixelRatio_ = s, this.resolution_ = n, this.buildersByZIndex_ = {};
  }
  /**
   * @return {!Object<string, !Object<import("../canvas.js").BuilderType, import("./Builder.js").SerializableInstructions>>} The serializable instructions
   */
  finish() {
    const e = {};
    for (const t in this.buildersByZIndex_) {
      e[t] = e[t] || {};
      const n = this.buildersByZIndex_[t];
      for (const s in n) {
        const r = n[s].finish();
        e[t][s] = r;
      }
    }
    return e;
  }
  /**
   * @param {number|undefined} zIndex Z index.
   * @param {import("../canvas.js").BuilderType} builderType Replay type.
   * @return {import("../VectorContext.js").default} Replay.
   */
  getBuilder(e, t) {
    const n = e !== void 0 ? e.toString() : "0";
    let s = this.buildersByZIndex_[n];
    s === void 0 && (s = {}, this.buildersByZIndex_[n] = s);
    let r = s[t];
    if (r === void 0) {
      const o = c_[t];
      r = new o(
        this.tolerance_,
        this.maxExtent_,
        this.resolution_,
        this.pixelRatio_
      ), s[t] = r;
    }
    return r;
  }
}
function u_(i, e, t, n, s, r, o, a, l, c, h, u, d = !0) {
  let f = i[e], g = i[e + 1], m = 0, _ = 0, p = 0, x = 0;
  function v() {
    m = f, _ = g, e += n, f = i[e], g = i[e + 1], x += p, p = Math.sqrt((f - m) * (f - m) + (g - _) * (g - _));
  }
  do
    v();
  while (e < t - n && x + p < r);
  let E = p === 0 ? 0 : (r - x) / p;
  const y = at(m, f, E), T = at(_, g, E), S = e - n, w = x, P = r + a * l(c, s, h);
  for (; e < t - n && x + p < P; )
    v();
  E = p === 0 ? 0 : (P - x) / p;
  const M = at(m, f, E), U = at(_, g, E);
  let k = !1;
  if (d)
    if (u) {
      const D = [y, T, M, U];
      Th(D, 0, 4, 2, u, D, D), k = D[0] > D[2];
    } else
      k = y > M;
  const F = Math.PI, R = [], A = S + n === e;
  e = S, p = 0, x = w, f = i[e], g = i[e + 1];
  let b;
  if (A) {
    v(), b = Math.atan2(g - _, f - m), k && (b += b > 0 ? -F : F);
    const D = (M + y) / 2, O = (U + T) / 2;
    return R[0] = [D, O, (P - r) / 2, b, s], R;
  }
  s = s.replace(/\n/g, " ");
  for (let D = 0, O = s.length; D < O; ) {
    v();
    let j = Math.atan2(g - _, f - m);
    if (k && (j += j > 0 ? -F : F), b !== void 0) {
      let fe = j - b;
      if (fe += fe > F ? -2 * F : fe < -F ? 2 * F : 0, Math.abs(fe) > o)
        return null;
    }
    b = j;
    const K = D;
    let ee = 0;
    for (; D < O; ++D) {
      const fe = k ? O - D - 1 : D, Ie = a * l(c, s[fe], h);
      if (e + n < t && x + p < r + ee + Ie / 2)
        break;
      ee += Ie;
    }
    if (D === K)
      continue;
    const I = k ? s.substring(O - K, O - D) : s.substring(K, D);
    E = p === 0 ? 0 : (r + ee / 2 - x) / p;
    const ye = at(m, f, E), Ce = at(_, g, E);
    R.push([ye, Ce, ee / 2, j, I]), r += ee;
  }
  return R;
}
class eu {
  constructor() {
    this.instructions_ = [], this.zIndex = 0, this.offset_ = 0, this.context_ = /** @type {ZIndexContextProxy} */
    new Proxy(xr(), {
      get: (e, t) => {
        if (typeof /** @type {*} */
        xr()[t] == "function")
          return this.push_(t), this.pushMethodArgs_;
      },
      set: (e, t, n) => (this.push_(t, n), !0)
    });
  }
  /**
   * @param {...*} args Arguments to push to the instructions array.
   * @private
   */
  push_(...e) {
    const t = this.instructions_, n = this.zIndex + this.offset_;
    t[n] || (t[n] = []), t[n].push(...e);
  }
  /**
   * @private
   * @param {...*} args Args.
   * @return {ZIndexContext} This.
   */
  pushMethodArgs_ = (...e) => (this.push_(e), this);
  /**
   * Push a function that renders to the context directly.
   * @param {function(CanvasRenderingContext2D): void} render Function.
   */
  pushFunction(e) {
    this.push_(e);
  }
  /**
   * Get a proxy for CanvasRenderingContext2D which does not support getting state
   * (e.g. `context.globalAlpha`, which will return `undefined`). To set state, if it relies on a
   * previous state (e.g. `context.globalAlpha = context.globalAlpha / 2`), set a function,
   * e.g. `context.globalAlpha = (context) => context.globalAlpha / 2`.
   * @return {ZIndexContextProxy} Context.
   */
  getContext() {
    return this.context_;
  }
  /**
   * @param {CanvasRenderingContext2D|OffscreenCanvasRenderingContext2D} context Context.
   */
  draw(e) {
    this.instructions_.forEach((t) => {
      for (let n = 0, s = t.length; n < s; ++n) {
        const r = t[n];
        if (typeof r == "function") {
          r(e);
          continue;
        }
        const o = t[++n];
        if (typeof /** @type {*} */
        e[r] == "function")
          e[r](...o);
        else {
          if (typeof o == "function") {
            e[r] = o(e);
            continue;
          }
          e[r] = o;
        }
      }
    });
  }
  clear() {
    this.instructions_.length = 0, this.zIndex = 0, this.offset_ = 0;
  }
  /**
   * Offsets the zIndex by the highest current zIndex. Useful for rendering multiple worlds or tiles, to
   * avoid conflicting context.clip() or context.save()/restore() calls.
   */
  offset() {
    this.offset_ = this.instructions_.length, this.zIndex = 0;
  }
}
const ni = ut(), cn = [], Yt = [], Zt = [], hn = [];
function _c(i) {
  return i[3].declutterBox;
}
const mc = new RegExp(
  /* eslint-disable prettier/prettier */
  "[֑-ࣿיִ-﷿ﹰ-ﻼࠀ-࿿-]"
  /* eslint-enable prettier/prettier */
);
function vo(i, e) {
  return e === "start" ? e = mc.test(i) ? "right" : "left" : e === "end" && (e = mc.test(i) ? "left" : "right"), Cr[e];
}
function d_(i, e, t) {
  return t > 0 && i.push(`
`, ""), i.push(e, ""), i;
}
function f_(i, e, t) {
  return t % 2 === 0 && (i += e), i;
}
class g_ {
  /**
   * @param {number} resolution Resolution.
   * @param {number} pixelRatio Pixel ratio.
   * @param {boolean} overlaps The replay can have overlapping geometries.
   * @param {import("../canvas.js").SerializableInstructions} instructions The serializable instructions.
   * @param {boolean} [deferredRendering] Enable deferred rendering.
   */
  constructor(e, t, n, s, r) {
    this.overlaps = n, this.pixelRatio = t, this.resolution = e, this.alignAndScaleFill_, this.instructions = s.instructions, this.coordinates = s.coordinates, this.coordinateCache_ = {}, this.renderedTransform_ = we(), this.hitDetectionInstructions = s.hitDetectionInstructions, this.pixelCoordinates_ = null, this.viewRotation_ = 0, this.fillStates = s.fillStates || {}, this.strokeStates = s.strokeStates || {}, this.textStates = s.textStates || {}, this.widths_ = {}, this.labels_ = {}, this.zIndexContext_ = r ? new eu() : null;
  }
  /**
   * @return {ZIndexContext} ZIndex context.
   */
  getZIndexContext() {
    return this.zIndexContext_;
  }
  /**
   * @param {string|Array<string>} text Text.
   * @param {string} textKey Text style key.
   * @param {string} fillKey Fill style key.
   * @param {string} strokeKey Stroke style key.
   * @return {import("../canvas.js").Label} Label.
   */
  createLabel(e, t, n, s) {
    const r = e + t + n + s;
    if (this.labels_[r])
      return this.labels_[r];
    const o = s ? this.strokeStates[s] : null, a = n ? this.fillStates[n] : null, l = this.textStates[t], c = this.pixelRatio, h = [
      l.scale[0] * c,
      l.scale[1] * c
    ], u = l.justify ? Cr[l.justify] : vo(
      Array.isArray(e) ? e[0] : e,
      l.textAlign || Es
    ), d = s && o.lineWidth ? o.lineWidth : 0, f = Array.isArray(e) ? e : String(e).split(`
`).reduce(d_, []), { width: g, height: m, widths: _, heights: p, lineWidths: x } = Ig(
      l,
      f
    ), v = g + d, E = [], y = (v + 2) * h[0], T = (m + d) * h[1], S = {
      width: y < 0 ? Math.floor(y) : Math.ceil(y),
      height: T < 0 ? Math.floor(T) : Math.ceil(T),
      contextInstructions: E
    };
    (h[0] != 1 || h[1] != 1) && E.push("scale", h), s && (E.push("strokeStyle", o.strokeStyle), E.push("lineWidth", d), E.push("lineCap", o.lineCap), E.push("lineJoin", o.lineJoin), E.push("miterLimit", o.miterLimit), E.push("setLineDash", [o.lineDash]), E.push("lineDashOffset", o.lineDashOffset)), n && E.push("fillStyle", a.fillStyle), E.push("textBaseline", "middle"), E.push("textAlign", "center");
    const w = 0.5 - u;
    let P = u * v + w * d;
    const M = [], U = [];
    let k = 0, F = 0, R = 0, A = 0, b;
    for (let D = 0, O = f.length; D < O; D += 2) {
      const j = f[D];
      if (j === `
`) {
        F += k, k = 0, P = u * v + w * d, ++A;
        continue;
      }
      const K = f[D + 1] || l.font;
      K !== b && (s && M.push("font", K), n && U.push("font", K), b = K), k = Math.max(k, p[R]);
      const ee = [
        j,
        P + w * _[R] + u * (_[R] - x[A]),
        0.5 * (d + k) + F
      ];
      P += _[R], s && M.push("strokeText", ee), n && U.push("fillText", ee), ++R;
    }
    return Array.prototype.push.apply(E, M), Array.prototype.push.apply(E, U), this.labels_[r] = S, S;
  }
  /**
   * @param {CanvasRenderingContext2D} context Context.
   * @param {import("../../coordinate.js").Coordinate} p1 1st point of the background box.
   * @param {import("../../coordinate.js").Coordinate} p2 2nd point of the background box.
   * @param {import("../../coordinate.js").Coordinate} p3 3rd point of the background box.
   * @param {import("../../coordinate.js").Coordinate} p4 4th point of the background box.
   * @param {Array<*>} fillInstruction Fill instruction.
   * @param {Array<*>} strokeInstruction Stroke instruction.
   */
  replayTextBackground_(e, t, n, s, r, o, a) {
    e.beginPath(), e.moveTo.apply(e, t), e.lineTo.apply(e, n), e.lineTo.apply(e, s), e.lineTo.apply(e, r), e.lineTo.apply(e, t), o && (this.alignAndScaleFill_ = /** @type {number} */
    o[2], e.fillStyle = /** @type {string} */
    o[1], this.fill_(e)), a && (this.setStrokeStyle_(
      e,
      /** @type {Array<*>} */
      a
    ), e.stroke());
  }
  /**
   * @private
   * @param {number} sheetWidth Width of the sprite sheet.
   * @param {number} sheetHeight Height of the sprite sheet.
   * @param {number} centerX X.
   * @param {number} centerY Y.
   * @param {number} width Width.
   * @param {number} height Height.
   * @param {number} anchorX Anchor X.
   * @param {number} anchorY Anchor Y.
   * @param {number} originX Origin X.
   * @param {number} originY Origin Y.
   * @param {number} rotation Rotation.
   * @param {import("../../size.js").Size} scale Scale.
   * @param {boolean} snapToPixel Snap to pixel.
   * @param {Array<number>} padding Padding.
   * @param {boolean} fillStroke Background fill or stroke.
   * @param {import("../../Feature.js").FeatureLike} feature Feature.
   * @return {ImageOrLabelDimensions} Dimensions for positioning and decluttering the image or label.
   */
  calculateImageOrLabelDimensions_(e, t, n, s, r, o, a, l, c, h, u, d, f, g, m, _) {
    a *= d[0], l *= d[1];
    let p = n - a, x = s - l;
    const v = r + c > e ? e - c : r, E = o + h > t ? t - h : o, y = g[3] + v * d[0] + g[1], T = g[0] + E * d[1] + g[2], S = p - g[3], w = x - g[0];
    (m || u !== 0) && (cn[0] = S, hn[0] = S, cn[1] = w, Yt[1] = w, Yt[0] = S + y, Zt[0] = Yt[0], Zt[1] = w + T, hn[1] = Zt[1]);
    let P;
    return u !== 0 ? (P = wt(
      we(),
      n,
      s,
      1,
      1,
      u,
      -n,
      -s
    ), xe(P, cn), xe(P, Yt), xe(P, Zt), xe(P, hn), Cn(
      Math.min(cn[0], Yt[0], Zt[0], hn[0]),
      Math.min(cn[1], Yt[1], Zt[1], hn[1]),
      Math.max(cn[0], Yt[0], Zt[0], hn[0]),
      Math.max(cn[1], Yt[1], Zt[1], hn[1]),
      ni
    )) : Cn(
      Math.min(S, S + y),
      Math.min(w, w + T),
      Math.max(S, S + y),
      Math.max(w, w + T),
      ni
    ), f && (p = Math.round(p), x = Math.round(x)), {
      drawImageX: p,
      drawImageY: x,
      drawImageW: v,
      drawImageH: E,
      originX: c,
      originY: h,
      declutterBox: {
        minX: ni[0],
        minY: ni[1],
        maxX: ni[2],
        maxY: ni[3],
        value: _
      },
      canvasTransform: P,
      scale: d
    };
  }
  /**
   * @private
   * @param {CanvasRenderingContext2D} context Context.
   * @param {import('../../size.js').Size} scaledCanvasSize Scaled canvas size.
   * @param {import("../canvas.js").Label|HTMLImageElement|HTMLCanvasElement|HTMLVideoElement} imageOrLabel Image.
   * @param {ImageOrLabelDimensions} dimensions Dimensions.
   * @param {number} opacity Opacity.
   * @param {Array<*>} fillInstruction Fill instruction.
   * @param {Array<*>} strokeInstruction Stroke instruction.
   * @return {boolean} The image or label was rendered.
   */
  replayImageOrLabel_(e, t, n, s, r, o, a) {
    const l = !!(o || a), c = s.declutterBox, h = a ? a[2] * s.scale[0] / 2 : 0;
    return c.minX - h <= t[0] && c.maxX + h >= 0 && c.minY - h <= t[1] && c.maxY + h >= 0 && (l && this.replayTextBackground_(
      e,
      cn,
      Yt,
      Zt,
      hn,
      /** @type {Array<*>} */
      o,
      /** @type {Array<*>} */
      a
    ), Ag(
      e,
      s.canvasTransform,
      r,
      n,
      s.originX,
      s.originY,
      s.drawImageW,
      s.drawImageH,
      s.drawImageX,
      s.drawImageY,
      s.scale
    )), !0;
  }
  /**
   * @private
   * @param {CanvasRenderingContext2D|OffscreenCanvasRenderingContext2D} context Context.
   */
  fill_(e) {
    const t = this.alignAndScaleFill_;
    if (t) {
      const n = xe(this.renderedTransform_, [0, 0]), s = 512 * this.pixelRatio;
      e.save(), e.translate(n[0] % s, n[1] % s), t !== 1 && e.scale(t, t), e.rotate(this.viewRotation_);
    }
    e.fill(), t && e.restore();
  }
  /**
   * @private
   * @param {CanvasRenderingContext2D|OffscreenCanvasRenderingContext2D} context Context.
   * @param {Array<*>} instruction Instruction.
   */
  setStrokeStyle_(e, t) {
    e.strokeStyle = /** @type {import("../../colorlike.js").ColorLike} */
    t[1], t[1] && (e.lineWidth = /** @type {number} */
    t[2], e.lineCap = /** @type {CanvasLineCap} */
    t[3], e.lineJoin = /** @type {CanvasLineJoin} */
    t[4], e.miterLimit = /** @type {number} */
    t[5], e.lineDashOffset = /** @type {number} */
    t[7], e.setLineDash(
      /** @type {Array<number>} */
      t[6]
    ));
  }
  /**
   * @private
   * @param {string|Array<string>} text The text to draw.
   * @param {string} textKey The key of the text state.
   * @param {string} strokeKey The key for the stroke state.
   * @param {string} fillKey The key for the fill state.
   * @return {{label: import("../canvas.js").Label, anchorX: number, anchorY: number}} The text image and its anchor.
   */
  drawLabelWithPointPlacement_(e, t, n, s) {
    const r = this.textStates[t], o = this.createLabel(e, t, s, n), a = this.strokeStates[n], l = this.pixelRatio, c = vo(
      Array.isArray(e) ? e[0] : e,
      r.textAlign || Es
    ), h = Cr[r.textBaseline || vr], u = a && a.lineWidth ? a.lineWidth : 0, d = o.width / l - 2 * r.scale[0], f = c * d + 2 * (0.5 - c) * u, g = h * o.height / l + 2 * (0.5 - h) * u;
    return {
      label: o,
      anchorX: f,
      anchorY: g
    };
  }
  /**
   * @private
   * @param {CanvasRenderingContext2D|OffscreenCanvasRenderingContext2D} context Context.
   * @param {import('../../size.js').Size} scaledCanvasSize Scaled canvas size
   * @param {import("../../transform.js").Transform} transform Transform.
   * @param {Array<*>} instructions Instructions array.
   * @param {boolean} snapToPixel Snap point symbols and text to integer pixels.
   * @param {FeatureCallback<T>} [featureCallback] Feature callback.
   * @param {import("../../extent.js").Extent} [hitExtent] Only check
   *     features that intersect this extent.
   * @param {import("rbush").default<DeclutterEntry>} [declutterTree] Declutter tree.
   * @return {T|undefined} Callback result.
   * @template T
   */
  execute_(e, t, n, s, r, o, a, l) {
    const c = this.zIndexContext_;
    let h;
    this.pixelCoordinates_ && $t(n, this.renderedTransform_) ? h = this.pixelCoordinates_ : (this.pixelCoordinates_ || (this.pixelCoordinates_ = []), h = Ut(
      this.coordinates,
      0,
      this.coordinates.length,
      2,
      n,
      this.pixelCoordinates_
    ), Ch(this.renderedTransform_, n));
    let u = 0;
    const d = s.length;
    let f = 0, g, m, _, p, x, v, E, y, T, S, w, P, M, U = 0, k = 0;
    const F = this.coordinateCache_, R = this.viewRotation_, A = Math.round(Math.atan2(-n[1], n[0]) * 1e12) / 1e12, b = (
      /** @type {import("../../render.js").State} */
      {
        context: e,
        pixelRatio: this.pixelRatio,
        resolution: this.resolution,
        rotation: R
      }
    ), D = this.instructions != s || this.overlaps ? 0 : 200;
    let O, j, K, ee;
    for (; u < d; ) {
      const I = s[u];
      switch (
        /** @type {import("./Instruction.js").default} */
        I[0]
      ) {
        case $.BEGIN_GEOMETRY:
          O = /** @type {import("../../Feature.js").FeatureLike} */
          I[1], ee = I[3], O.getGeometry() ? a !== void 0 && !Ke(a, ee.getExtent()) ? u = /** @type {number} */
          I[2] + 1 : ++u : u = /** @type {number} */
          I[2], c && (c.zIndex = I[4]);
          break;
        case $.BEGIN_PATH:
          U > D && (this.fill_(e), U = 0), k > D && (e.stroke(), k = 0), !U && !k && (e.beginPath(), x = NaN, v = NaN), ++u;
          break;
        case $.CIRCLE:
          f = /** @type {number} */
          I[1];
          const Ce = h[f], fe = h[f + 1], Ie = h[f + 2], Ae = h[f + 3], L = Ie - Ce, G = Ae - fe, J = Math.sqrt(L * L + G * G);
          e.moveTo(Ce + J, fe), e.arc(Ce, fe, J, 0, 2 * Math.PI, !0), ++u;
          break;
        case $.CLOSE_PATH:
          e.closePath(), ++u;
          break;
        case $.CUSTOM:
          f = /** @type {number} */
          I[1], g = I[2];
          const Xe = (
            /** @type {import("../../geom/SimpleGeometry.js").default} */
            I[3]
          ), eo = I[4], Oi = I[5];
          b.geometry = Xe, b.feature = O, u in F || (F[u] = []);
          const Sn = F[u];
          Oi ? Oi(h, f, g, 2, Sn) : (Sn[0] = h[f], Sn[1] = h[f + 1], Sn.length = 2), c && (c.zIndex = I[6]), eo(Sn, b), ++u;
          break;
        case $.DRAW_IMAGE:
          f = /** @type {number} */
          I[1], g = /** @type {number} */
          I[2], T = /** @type {HTMLCanvasElement|HTMLVideoElement|HTMLImageElement} */
          I[3], m = /** @type {number} */
          I[4], _ = /** @type {number} */
          I[5];
          let dt = (
            /** @type {number} */
            I[6]
          );
          const bt = (
            /** @type {number} */
            I[7]
          ), Hn = (
            /** @type {number} */
            I[8]
          ), qn = (
            /** @type {number} */
            I[9]
          ), Ni = (
            /** @type {boolean} */
            I[10]
          );
          let Rn = (
            /** @type {number} */
            I[11]
          );
          const Jn = (
            /** @type {import("../../size.js").Size} */
            I[12]
          );
          let Qn = (
            /** @type {number} */
            I[13]
          );
          p = I[14] || "declutter";
          const Fe = (
            /** @type {{args: import("../canvas.js").DeclutterImageWithText, declutterMode: import('../../style/Style.js').DeclutterMode}} */
            I[15]
          );
          if (!T && I.length >= 20) {
            S = /** @type {string} */
            I[19], w = /** @type {string} */
            I[20], P = /** @type {string} */
            I[21], M = /** @type {string} */
            I[22];
            const ft = this.drawLabelWithPointPlacement_(
              S,
              w,
              P,
              M
            );
            T = ft.label, I[3] = T;
            const wn = (
              /** @type {number} */
              I[23]
            );
            m = (ft.anchorX - wn) * this.pixelRatio, I[4] = m;
            const gt = (
              /** @type {number} */
              I[24]
            );
            _ = (ft.anchorY - gt) * this.pixelRatio, I[5] = _, dt = T.height, I[6] = dt, Qn = T.width, I[13] = Qn;
          }
          let to;
          I.length > 25 && (to = /** @type {number} */
          I[25]);
          let no, zs, $s;
          I.length > 17 ? (no = /** @type {Array<number>} */
          I[16], zs = /** @type {Array<*>} */
          I[17], $s = /** @type {Array<*>} */
          I[18]) : (no = Mn, zs = null, $s = null), Ni && A ? Rn += R : !Ni && !A && (Rn -= R);
          let ju = 0;
          for (; f < g; f += 2) {
            if (to && to[ju++] < Qn / this.pixelRatio)
              continue;
            const ft = this.calculateImageOrLabelDimensions_(
              T.width,
              T.height,
              h[f],
              h[f + 1],
              Qn,
              dt,
              m,
              _,
              Hn,
              qn,
              Rn,
              Jn,
              r,
              no,
              !!zs || !!$s,
              O
            ), wn = [
              e,
              t,
              T,
              ft,
              bt,
              zs,
              $s
            ];
            if (l) {
              let gt, Lt, _t;
              if (Fe) {
                const pe = g - f;
                if (!Fe[pe]) {
                  Fe[pe] = { args: wn, declutterMode: p };
                  continue;
                }
                const je = Fe[pe];
                gt = je.args, Lt = je.declutterMode, delete Fe[pe], _t = _c(gt);
              }
              let Vt, Xt;
              if (gt && (Lt !== "declutter" || !l.collides(_t)) && (Vt = !0), (p !== "declutter" || !l.collides(ft.declutterBox)) && (Xt = !0), Lt === "declutter" && p === "declutter") {
                const pe = Vt && Xt;
                Vt = pe, Xt = pe;
              }
              Vt && (Lt !== "none" && l.insert(_t), this.replayImageOrLabel_.apply(this, gt)), Xt && (p !== "none" && l.insert(ft.declutterBox), this.replayImageOrLabel_.apply(this, wn));
            } else
              this.replayImageOrLabel_.apply(this, wn);
          }
          ++u;
          break;
        case $.DRAW_CHARS:
          const Al = (
            /** @type {number} */
            I[1]
          ), Fl = (
            /** @type {number} */
            I[2]
          ), io = (
            /** @type {number} */
            I[3]
          ), Yu = (
            /** @type {number} */
            I[4]
          );
          M = /** @type {string} */
          I[5];
          const Zu = (
            /** @type {number} */
            I[6]
          ), bl = (
            /** @type {number} */
            I[7]
          ), Ll = (
            /** @type {number} */
            I[8]
          );
          P = /** @type {string} */
          I[9];
          const so = (
            /** @type {number} */
            I[10]
          );
          S = /** @type {string|Array<string>} */
          I[11], Array.isArray(S) && (S = S.reduce(f_, "")), w = /** @type {string} */
          I[12];
          const Ml = [
            /** @type {number} */
            I[13],
            /** @type {number} */
            I[13]
          ];
          p = I[14] || "declutter";
          const Ku = (
            /** @type {boolean} */
            I[15]
          ), ro = this.textStates[w], ki = ro.font, Gi = [
            ro.scale[0] * bl,
            ro.scale[1] * bl
          ];
          let Bi;
          ki in this.widths_ ? Bi = this.widths_[ki] : (Bi = {}, this.widths_[ki] = Bi);
          const Dl = Ga(h, Al, Fl, 2), Ol = Math.abs(Gi[0]) * nc(ki, S, Bi);
          if (Yu || Ol <= Dl) {
            const ft = this.textStates[w].textAlign, wn = (Dl - Ol) * vo(S, ft), gt = u_(
              h,
              Al,
              Fl,
              2,
              S,
              wn,
              Zu,
              Math.abs(Gi[0]),
              nc,
              ki,
              Bi,
              A ? 0 : this.viewRotation_,
              Ku
            );
            e: if (gt) {
              const Lt = [];
              let _t, Vt, Xt, pe, je;
              if (P)
                for (_t = 0, Vt = gt.length; _t < Vt; ++_t) {
                  je = gt[_t], Xt = /** @type {string} */
                  je[4], pe = this.createLabel(Xt, w, "", P), m = /** @type {number} */
                  je[2] + (Gi[0] < 0 ? -so : so), _ = io * pe.height + (0.5 - io) * 2 * so * Gi[1] / Gi[0] - Ll;
                  const jt = this.calculateImageOrLabelDimensions_(
                    pe.width,
                    pe.height,
                    je[0],
                    je[1],
                    pe.width,
                    pe.height,
                    m,
                    _,
                    0,
                    0,
                    je[3],
                    Ml,
                    !1,
                    Mn,
                    !1,
                    O
                  );
                  if (l && p === "declutter" && l.collides(jt.declutterBox))
                    break e;
                  Lt.push([
                    e,
                    t,
                    pe,
                    jt,
                    1,
                    null,
                    null
                  ]);
                }
              if (M)
                for (_t = 0, Vt = gt.length; _t < Vt; ++_t) {
                  je = gt[_t], Xt = /** @type {string} */
                  je[4], pe = this.createLabel(Xt, w, M, ""), m = /** @type {number} */
                  je[2], _ = io * pe.height - Ll;
                  const jt = this.calculateImageOrLabelDimensions_(
                    pe.width,
                    pe.height,
                    je[0],
                    je[1],
                    pe.width,
                    pe.height,
                    m,
                    _,
                    0,
                    0,
                    je[3],
                    Ml,
                    !1,
                    Mn,
                    !1,
                    O
                  );
                  if (l && p === "declutter" && l.collides(jt.declutterBox))
                    break e;
                  Lt.push([
                    e,
                    t,
                    pe,
                    jt,
                    1,
                    null,
                    null
                  ]);
                }
              l && p !== "none" && l.load(Lt.map(_c));
              for (let jt = 0, Hu = Lt.length; jt < Hu; ++jt)
                this.replayImageOrLabel_.apply(this, Lt[jt]);
            }
          }
          ++u;
          break;
        case $.END_GEOMETRY:
          if (o !== void 0) {
            O = /** @type {import("../../Feature.js").FeatureLike} */
            I[1];
            const ft = o(
              O,
              ee,
              p
            );
            if (ft)
              return ft;
          }
          ++u;
          break;
        case $.FILL:
          D ? U++ : this.fill_(e), ++u;
          break;
        case $.MOVE_TO_LINE_TO:
          for (f = /** @type {number} */
          I[1], g = /** @type {number} */
          I[2], j = h[f], K = h[f + 1], e.moveTo(j, K), x = j + 0.5 | 0, v = K + 0.5 | 0, f += 2; f < g; f += 2)
            j = h[f], K = h[f + 1], E = j + 0.5 | 0, y = K + 0.5 | 0, (f == g - 2 || E !== x || y !== v) && (e.lineTo(j, K), x = E, v = y);
          ++u;
          break;
        case $.SET_FILL_STYLE:
          this.alignAndScaleFill_ = I[2], U && (this.fill_(e), U = 0, k && (e.stroke(), k = 0)), e.fillStyle = I[1], ++u;
          break;
        case $.SET_STROKE_STYLE:
          k && (e.stroke(), k = 0), this.setStrokeStyle_(
            e,
            /** @type {Array<*>} */
            I
          ), ++u;
          break;
        case $.STROKE:
          D ? k++ : e.stroke(), ++u;
          break;
        default:
          ++u;
          break;
      }
    }
    U && this.fill_(e), k && e.stroke();
  }
  /**
   * @param {CanvasRenderingContext2D|OffscreenCanvasRenderingContext2D} context Context.
   * @param {import('../../size.js').Size} scaledCanvasSize Scaled canvas size.
   * @param {import("../../transform.js").Transform} transform Transform.
   * @param {number} viewRotation View rotation.
   * @param {boolean} snapToPixel Snap point symbols and text to integer pixels.
   * @param {import("rbush").default<DeclutterEntry>} [declutterTree] Declutter tree.
   */
  execute(e, t, n, s, r, o) {
    this.viewRotation_ = s, this.execute_(
      e,
      t,
      n,
      this.instructions,
      r,
      void 0,
      void 0,
      o
    );
  }
  /**
   * @param {CanvasRenderingContext2D|OffscreenCanvasRenderingContext2D} context Context.
   * @param {import("../../transform.js").Transform} transform Transform.
   * @param {number} viewRotation View rotation.
   * @param {FeatureCallback<T>} [featureCallback] Feature callback.
   * @param {import("../../extent.js").Extent} [hitExtent] Only check
   *     features that intersect this extent.
   * @return {T|undefined} Callback result.
   * @template T
   */
  executeHitDetection(e, t, n, s, r) {
    return this.viewRotation_ = n, this.execute_(
      e,
      [e.canvas.width, e.canvas.height],
      t,
      this.hitDetectionInstructions,
      !0,
      s,
      r
    );
  }
}
const Fn = [
  "Polygon",
  "Circle",
  "LineString",
  "Image",
  "Text",
  "Default"
], tu = ["Image", "Text"], __ = Fn.filter(
  (i) => !tu.includes(i)
);
class m_ {
  /**
   * @param {import("../../extent.js").Extent} maxExtent Max extent for clipping. When a
   * `maxExtent` was set on the Builder for this executor group, the same `maxExtent`
   * should be set here, unless the target context does not exceed that extent (which
   * can be the case when rendering to tiles).
   * @param {number} resolution Resolution.
   * @param {number} pixelRatio Pixel ratio.
   * @param {boolean} overlaps The executor group can have overlapping geometries.
   * @param {!Object<string, !Object<import("../canvas.js").BuilderType, import("../canvas.js").SerializableInstructions>>} allInstructions
   * The serializable instructions.
   * @param {number} [renderBuffer] Optional rendering buffer.
   * @param {boolean} [deferredRendering] Enable deferred rendering with renderDeferred().
   */
  constructor(e, t, n, s, r, o, a) {
    this.maxExtent_ = e, this.overlaps_ = s, this.pixelRatio_ = n, this.resolution_ = t, this.renderBuffer_ = o, this.executorsByZIndex_ = {}, this.hitDetectionContext_ = null, this.hitDetectionTransform_ = we(), this.renderedContext_ = null, this.deferredZIndexContexts_ = {}, this.createExecutors_(r, a);
  }
  /**
   * @param {CanvasRenderingContext2D|OffscreenCanvasRenderingContext2D} context Context.
   * @param {import("../../transform.js").Transform} transform Transform.
   */
  clip(e, t) {
    const n = this.getClipCoords(t);
    e.beginPath(), e.moveTo(n[0], n[1]), e.lineTo(n[2], n[3]), e.lineTo(n[4], n[5]), e.lineTo(n[6], n[7]), e.clip();
  }
  /**
   * Create executors and populate them using the provided instructions.
   * @private
   * @param {!Object<string, !Object<string, import("../canvas.js").SerializableInstructions>>} allInstructions The serializable instructions
   * @param {boolean} deferredRendering Enable deferred rendering.
   */
  createExecutors_(e, t) {
    for (const n in e) {
      let s = this.executorsByZIndex_[n];
      s === void 0 && (s = {}, this.executorsByZIndex_[n] = s);
      const r = e[n];
      for (const o in r) {
        const a = r[o];
        s[o] = new g_(
          this.resolution_,
          this.pixelRatio_,
          this.overlaps_,
          a,
          t
        );
      }
    }
  }
  /**
   * @param {Array<import("../canvas.js").BuilderType>} executors Executors.
   * @return {boolean} Has executors of the provided types.
   */
  hasExecutors(e) {
    for (const t in this.executorsByZIndex_) {
      const n = this.executorsByZIndex_[t];
      for (let s = 0, r = e.length; s < r; ++s)
        if (e[s] in n)
          return !0;
    }
    return !1;
  }
  /**
   * @param {import("../../coordinate.js").Coordinate} coordinate Coordinate.
   * @param {number} resolution Resolution.
   * @param {number} rotation Rotation.
   * @param {number} hitTolerance Hit tolerance in pixels.
   * @param {function(import("../../Feature.js").FeatureLike, import("../../geom/SimpleGeometry.js").default, number): T} callback Feature callback.
   * @param {Array<import("../../Feature.js").FeatureLike>} declutteredFeatures Decluttered features.
   * @return {T|undefined} Callback result.
   * @template T
   */
  forEachFeatureAtCoordinate(e, t, n, s, r, o) {
    s = Math.round(s);
    const a = s * 2 + 1, l = wt(
      this.hitDetectionTransform_,
      s + 0.5,
      s + 0.5,
      1 / t,
      -1 / t,
      -n,
      -e[0],
      -e[1]
    ), c = !this.hitDetectionContext_;
    c && (this.hitDetectionContext_ = Pe(
      a,
      a
    ));
    const h = this.hitDetectionContext_;
    h.canvas.width !== a || h.canvas.height !== a ? (h.canvas.width = a, h.canvas.height = a) : c || h.clearRect(0, 0, a, a);
    let u;
    this.renderBuffer_ !== void 0 && (u = ut(), es(u, e), Ps(
      u,
      t * (this.renderBuffer_ + s),
      u
    ));
    const d = p_(s);
    let f;
    function g(y, T, S) {
      const w = h.getImageData(
        0,
        0,
        a,
        a
      ).data;
      for (let P = 0, M = d.length; P < M; P++)
        if (w[d[P]] > 0) {
          if (!o || S === "none" || f !== "Image" && f !== "Text" || o.includes(y)) {
            const U = (d[P] - 3) / 4, k = s - U % a, F = s - (U / a | 0), R = r(y, T, k * k + F * F);
            if (R)
              return R;
          }
          h.clearRect(0, 0, a, a);
          break;
        }
    }
    const m = Object.keys(this.executorsByZIndex_).map(Number);
    m.sort(nn);
    let _, p, x, v, E;
    for (_ = m.length - 1; _ >= 0; --_) {
      const y = m[_].toString();
      for (x = this.executorsByZIndex_[y], p = Fn.length - 1; p >= 0; --p)
        if (f = Fn[p], v = x[f], v !== void 0 && (E = v.executeHitDetection(
          h,
          l,
          n,
          g,
          u
        ), E))
          return E;
    }
  }
  /**
   * @param {import("../../transform.js").Transform} transform Transform.
   * @return {Array<number>|null} Clip coordinates.
   */
  getClipCoords(e) {
    const t = this.maxExtent_;
    if (!t)
      return null;
    const n = t[0], s = t[1], r = t[2], o = t[3], a = [n, s, n, o, r, o, r, s];
    return Ut(a, 0, 8, 2, e, a), a;
  }
  /**
   * @return {boolean} Is empty.
   */
  isEmpty() {
    return Bn(this.executorsByZIndex_);
  }
  /**
   * @param {CanvasRenderingContext2D|OffscreenCanvasRenderingContext2D} targetContext Context.
   * @param {import('../../size.js').Size} scaledCanvasSize Scale of the context.
   * @param {import("../../transform.js").Transform} transform Transform.
   * @param {number} viewRotation View rotation.
   * @param {boolean} snapToPixel Snap point symbols and test to integer pixel.
   * @param {Array<import("../canvas.js").BuilderType>} [builderTypes] Ordered replay types to replay.
   *     Default is {@link module:ol/render/replay~ALL}
   * @param {import("rbush").default<import('./Executor.js').DeclutterEntry>|null} [declutterTree] Declutter tree.
   *     When set to null, no decluttering is done, even when the executor group has a `ZIndexContext`.
   */
  execute(e, t, n, s, r, o, a) {
    const l = Object.keys(this.executorsByZIndex_).map(Number);
    l.sort(a ? Af : nn), o = o || Fn;
    const c = Fn.length;
    for (let h = 0, u = l.length; h < u; ++h) {
      const d = l[h].toString(), f = this.executorsByZIndex_[d];
      for (let g = 0, m = o.length; g < m; ++g) {
        const _ = o[g], p = f[_];
        if (p !== void 0) {
          const x = a === null ? void 0 : p.getZIndexContext(), v = x ? x.getContext() : e, E = this.maxExtent_ && _ !== "Image" && _ !== "Text";
          if (E && (v.save(), this.clip(v, n)), !x || _ === "Text" || _ === "Image" ? p.execute(
            v,
            t,
            n,
            s,
            r,
            a
          ) : x.pushFunction(
            (y) => p.execute(
              y,
              t,
              n,
              s,
              r,
              a
            )
          ), E && v.restore(), x) {
            x.offset();
            const y = l[h] * c + Fn.indexOf(_);
            this.deferredZIndexContexts_[y] || (this.deferredZIndexContexts_[y] = []), this.deferredZIndexContexts_[y].push(x);
          }
        }
      }
    }
    this.renderedContext_ = e;
  }
  getDeferredZIndexContexts() {
    return this.deferredZIndexContexts_;
  }
  getRenderedContext() {
    return this.renderedContext_;
  }
  renderDeferred() {
    const e = this.deferredZIndexContexts_, t = Object.keys(e).map(Number).sort(nn);
    for (let n = 0, s = t.length; n < s; ++n)
      e[t[n]].forEach((r) => {
        r.draw(this.renderedContext_), r.clear();
      }), e[t[n]].length = 0;
  }
}
const Co = {};
function p_(i) {
  if (Co[i] !== void 0)
    return Co[i];
  const e = i * 2 + 1, t = i * i, n = new Array(t + 1);
  for (let r = 0; r <= i; ++r)
    for (let o = 0; o <= i; ++o) {
      const a = r * r + o * o;
      if (a > t)
        break;
      let l = n[a];
      l || (l = [], n[a] = l), l.push(((i + r) * e + (i + o)) * 4 + 3), r > 0 && l.push(((i - r) * e + (i + o)) * 4 + 3), o > 0 && (l.push(((i + r) * e + (i - o)) * 4 + 3), r > 0 && l.push(((i - r) * e + (i - o)) * 4 + 3));
    }
  const s = [];
  for (let r = 0, o = n.length; r < o; ++r)
    n[r] && s.push(...n[r]);
  return Co[i] = s, s;
}
const Ot = 0.5;
function y_(i, e, t, n, s, r, o, a, l) {
  const c = s, h = i[0] * Ot, u = i[1] * Ot, d = Pe(h, u);
  d.imageSmoothingEnabled = !1;
  const f = d.canvas, g = new kg(
    d,
    Ot,
    s,
    null,
    o,
    a,
    null
  ), m = t.length, _ = Math.floor((256 * 256 * 256 - 1) / m), p = {};
  for (let v = 1; v <= m; ++v) {
    const E = t[v - 1], y = E.getStyleFunction() || n;
    if (!y)
      continue;
    let T = y(E, r);
    if (!T)
      continue;
    Array.isArray(T) || (T = [T]);
    const w = (v * _).toString(16).padStart(7, "#00000");
    for (let P = 0, M = T.length; P < M; ++P) {
      const U = T[P], k = U.getGeometryFunction()(E);
      if (!k || !Ke(c, k.getExtent()))
        continue;
      const F = U.clone(), R = F.getFill();
      R && R.setColor(w);
      const A = F.getStroke();
      A && (A.setColor(w), A.setLineDash(null)), F.setText(void 0);
      const b = U.getImage();
      if (b) {
        const K = b.getImageSize();
        if (!K)
          continue;
        const ee = Pe(
          K[0],
          K[1],
          void 0,
          { alpha: !1 }
        ), I = ee.canvas;
        ee.fillStyle = w, ee.fillRect(0, 0, I.width, I.height), F.setImage(
          new Yr({
            img: I,
            anchor: b.getAnchor(),
            anchorXUnits: "pixels",
            anchorYUnits: "pixels",
            offset: b.getOrigin(),
            opacity: 1,
            size: b.getSize(),
            scale: b.getScale(),
            rotation: b.getRotation(),
            rotateWithView: b.getRotateWithView()
          })
        );
      }
      const D = F.getZIndex() || 0;
      let O = p[D];
      O || (O = {}, p[D] = O, O.Polygon = [], O.Circle = [], O.LineString = [], O.Point = []);
      const j = k.getType();
      if (j === "GeometryCollection") {
        const K = (
          /** @type {import("../../geom/GeometryCollection.js").default} */
          k.getGeometriesArrayRecursive()
        );
        for (let ee = 0, I = K.length; ee < I; ++ee) {
          const ye = K[ee];
          O[ye.getType().replace("Multi", "")].push(
            ye,
            F
          );
        }
      } else
        O[j.replace("Multi", "")].push(k, F);
    }
  }
  const x = Object.keys(p).map(Number).sort(nn);
  for (let v = 0, E = x.length; v < E; ++v) {
    const y = p[x[v]];
    for (const T in y) {
      const S = y[T];
      for (let w = 0, P = S.length; w < P; w += 2) {
        g.setStyle(S[w + 1]);
        for (let M = 0, U = e.length; M < U; ++M)
          g.setTransform(e[M]), g.drawGeometry(S[w]);
      }
    }
  }
  return d.getImageData(0, 0, f.width, f.height);
}
function x_(i, e, t) {
  const n = [];
  if (t) {
    const s = Math.floor(Math.round(i[0]) * Ot), r = Math.floor(Math.round(i[1]) * Ot), o = (de(s, 0, t.width - 1) + de(r, 0, t.height - 1) * t.width) * 4, a = t.data[o], l = t.data[o + 1], h = t.data[o + 2] + 256 * (l + 256 * a), u = Math.floor((256 * 256 * 256 - 1) / e.length);
    h && h % u === 0 && n.push(e[h / u - 1]);
  }
  return n;
}
class is extends At {
  /**
   * @param {import("./EventType.js").default} type Type.
   * @param {import("../transform.js").Transform} [inversePixelTransform] Transform for
   *     CSS pixels to rendered pixels.
   * @param {import("../Map.js").FrameState} [frameState] Frame state.
   * @param {?(CanvasRenderingContext2D|OffscreenCanvasRenderingContext2D|WebGLRenderingContext)} [context] Context.
   */
  constructor(e, t, n, s) {
    super(e), this.inversePixelTransform = t, this.frameState = n, this.context = s;
  }
}
const E_ = 5;
class nu extends Ms {
  /**
   * @param {LayerType} layer Layer.
   */
  constructor(e) {
    super(), this.ready = !0, this.boundHandleImageChange_ = this.handleImageChange_.bind(this), this.layer_ = e, this.staleKeys_ = new Array(), this.maxStaleKeys = E_;
  }
  /**
   * @return {Array<string>} Get the list of stale keys.
   */
  getStaleKeys() {
    return this.staleKeys_;
  }
  /**
   * @param {string} key The new stale key.
   */
  prependStaleKey(e) {
    this.staleKeys_.unshift(e), this.staleKeys_.length > this.maxStaleKeys && (this.staleKeys_.length = this.maxStaleKeys);
  }
  /**
   * Asynchronous layer level hit detection.
   * @param {import("../pixel.js").Pixel} pixel Pixel.
   * @return {Promise<Array<import("../Feature").FeatureLike>>} Promise that resolves with
   * an array of features.
   */
  getFeatures(e) {
    return X();
  }
  /**
   * @param {import("../pixel.js").Pixel} pixel Pixel.
   * @return {Uint8ClampedArray|Uint8Array|Float32Array|DataView|null} Pixel data.
   */
  getData(e) {
    return null;
  }
  /**
   * Determine whether render should be called.
   * @abstract
   * @param {import("../Map.js").FrameState} frameState Frame state.
   * @return {boolean} Layer is ready to be rendered.
   */
  prepareFrame(e) {
    return X();
  }
  /**
   * Render the layer.
   * @abstract
   * @param {import("../Map.js").FrameState} frameState Frame state.
   * @param {HTMLElement|null} target Target that may be used to render content to.
   * @return {HTMLElement} The rendered element.
   */
  renderFrame(e, t) {
    return X();
  }
  /**
   * @abstract
   * @param {import("../coordinate.js").Coordinate} coordinate Coordinate.
   * @param {import("../Map.js").FrameState} frameState Frame state.
   * @param {number} hitTolerance Hit tolerance in pixels.
   * @param {import("./vector.js").FeatureCallback<T>} callback Feature callback.
   * @param {Array<import("./Map.js").HitMatch<T>>} matches The hit detected matches with tolerance.
   * @return {T|undefined} Callback result.
   * @template T
   */
  forEachFeatureAtCoordinate(e, t, n, s, r) {
  }
  /**
   * @return {LayerType} Layer.
   */
  getLayer() {
    return this.layer_;
  }
  /**
   * Perform action necessary to get the layer rendered after new fonts have loaded
   * @abstract
   */
  handleFontsChanged() {
  }
  /**
   * Handle changes in image state.
   * @param {import("../events/Event.js").default} event Image change event.
   * @private
   */
  handleImageChange_(e) {
    const t = (
      /** @type {import("../Image.js").default} */
      e.target
    );
    (t.getState() === q.LOADED || t.getState() === q.ERROR) && this.renderIfReadyAndVisible();
  }
  /**
   * Load the image if not already loaded, and register the image change
   * listener if needed.
   * @param {import("../Image.js").default} image Image.
   * @return {boolean} `true` if the image is already loaded, `false` otherwise.
   * @protected
   */
  loadImage(e) {
    let t = e.getState();
    return t != q.LOADED && t != q.ERROR && e.addEventListener(Y.CHANGE, this.boundHandleImageChange_), t == q.IDLE && (e.load(), t = e.getState()), t == q.LOADED;
  }
  /**
   * @protected
   */
  renderIfReadyAndVisible() {
    const e = this.getLayer();
    e && e.getVisible() && e.getSourceState() === "ready" && e.changed();
  }
  /**
   * @param {import("../Map.js").FrameState} frameState Frame state.
   */
  renderDeferred(e) {
  }
  /**
   * Clean up.
   * @override
   */
  disposeInternal() {
    delete this.layer_, super.disposeInternal();
  }
}
const pc = [];
let fi = null;
function v_() {
  fi = Pe(1, 1, void 0, {
    willReadFrequently: !0
  });
}
class iu extends nu {
  /**
   * @param {LayerType} layer Layer.
   */
  constructor(e) {
    super(e), this.container = null, this.renderedResolution, this.tempTransform = we(), this.pixelTransform = we(), this.inversePixelTransform = we(), this.context = null, this.deferredContext_ = null, this.containerReused = !1, this.frameState = null;
  }
  /**
   * @param {import('../../DataTile.js').ImageLike} image Image.
   * @param {number} col The column index.
   * @param {number} row The row index.
   * @return {Uint8ClampedArray|null} The image data.
   */
  getImageData(e, t, n) {
    fi || v_(), fi.clearRect(0, 0, 1, 1);
    let s;
    try {
      fi.drawImage(e, t, n, 1, 1, 0, 0, 1, 1), s = fi.getImageData(0, 0, 1, 1).data;
    } catch {
      return fi = null, null;
    }
    return s;
  }
  /**
   * @param {import('../../Map.js').FrameState} frameState Frame state.
   * @return {string} Background color.
   */
  getBackground(e) {
    let n = this.getLayer().getBackground();
    return typeof n == "function" && (n = n(e.viewState.resolution)), n || void 0;
  }
  /**
   * Get a rendering container from an existing target, if compatible.
   * @param {HTMLElement} target Potential render target.
   * @param {string} transform CSS transform matrix.
   * @param {string} [backgroundColor] Background color.
   */
  useContainer(e, t, n) {
    const s = this.getLayer().getClassName();
    let r, o;
    if (e && e.className === s && (!n || e && e.style.backgroundColor && $t(
      Pt(e.style.backgroundColor),
      Pt(n)
    ))) {
      const a = e.firstElementChild;
      yn(a) && (o = a.getContext("2d"));
    }
    if (o && Uf(o.canvas.style.transform, t) ? (this.container = e, this.context = o, this.containerReused = !0) : this.containerReused ? (this.container = null, this.context = null, this.containerReused = !1) : this.container && (this.container.style.backgroundColor = null), !this.container) {
      r = ct ? Bh() : document.createElement("div"), r.className = s;
      let a = r.style;
      a.position = "absolute", a.width = "100%", a.height = "100%", o = Pe();
      const l = (
        /** @type {HTMLCanvasElement} */
        o.canvas
      );
      r.appendChild(l), a = l.style, a.position = "absolute", a.left = "0", a.transformOrigin = "top left", this.container = r, this.context = o;
    }
    !this.containerReused && n && !this.container.style.backgroundColor && (this.container.style.backgroundColor = n);
  }
  /**
   * @param {CanvasRenderingContext2D|OffscreenCanvasRenderingContext2D} context Context.
   * @param {import("../../Map.js").FrameState} frameState Frame state.
   * @param {import("../../extent.js").Extent} extent Clip extent.
   * @protected
   */
  clipUnrotated(e, t, n) {
    const s = Xn(n), r = Or(n), o = Dr(n), a = Mr(n);
    xe(t.coordinateToPixelTransform, s), xe(t.coordinateToPixelTransform, r), xe(t.coordinateToPixelTransform, o), xe(t.coordinateToPixelTransform, a);
    const l = this.inversePixelTransform;
    xe(l, s), xe(l, r), xe(l, o), xe(l, a), e.save(), e.beginPath(), e.moveTo(Math.round(s[0]), Math.round(s[1])), e.lineTo(Math.round(r[0]), Math.round(r[1])), e.lineTo(Math.round(o[0]), Math.round(o[1])), e.lineTo(Math.round(a[0]), Math.round(a[1])), e.clip();
  }
  /**
   * @param {import("../../Map.js").FrameState} frameState Frame state.
   * @param {HTMLElement} target Target that may be used to render content to.
   * @protected
   */
  prepareContainer(e, t) {
    const n = e.extent, s = e.viewState.resolution, r = e.viewState.rotation, o = e.pixelRatio, a = Math.round(ae(n) / s * o), l = Math.round(He(n) / s * o);
    wt(
      this.pixelTransform,
      e.size[0] / 2,
      e.size[1] / 2,
      1 / o,
      1 / o,
      r,
      -a / 2,
      -l / 2
    ), ds(this.inversePixelTransform, this.pixelTransform);
    const c = Bf(this.pixelTransform);
    if (this.useContainer(t, c, this.getBackground(e)), !this.containerReused) {
      const h = this.context.canvas;
      h.width != a || h.height != l ? (h.width = a, h.height = l) : this.context.clearRect(0, 0, a, l), c !== /** @type {HTMLCanvasElement} */
      h.style.transform && (h.style.transform = c);
    }
  }
  /**
   * @param {import("../../render/EventType.js").default} type Event type.
   * @param {CanvasRenderingContext2D|OffscreenCanvasRenderingContext2D} context Context.
   * @param {import("../../Map.js").FrameState} frameState Frame state.
   * @private
   */
  dispatchRenderEvent_(e, t, n) {
    const s = this.getLayer();
    if (s.hasListener(e)) {
      const r = new is(
        e,
        this.inversePixelTransform,
        n,
        t
      );
      s.dispatchEvent(r);
    }
  }
  /**
   * @param {CanvasRenderingContext2D|OffscreenCanvasRenderingContext2D} context Context.
   * @param {import("../../Map.js").FrameState} frameState Frame state.
   * @protected
   */
  preRender(e, t) {
    this.frameState = t, !t.declutter && this.dispatchRenderEvent_(Oe.PRERENDER, e, t);
  }
  /**
   * @param {CanvasRenderingContext2D|OffscreenCanvasRenderingContext2D} context Context.
   * @param {import("../../Map.js").FrameState} frameState Frame state.
   * @protected
   */
  postRender(e, t) {
    t.declutter || this.dispatchRenderEvent_(Oe.POSTRENDER, e, t);
  }
  /**
   * @param {import("../../Map.js").FrameState} frameState Frame state.
   */
  renderDeferredInternal(e) {
  }
  /**
   * @param {import("../../Map.js").FrameState} frameState Frame state.
   * @return {import('../../render/canvas/ZIndexContext.js').ZIndexContextProxy} Context.
   */
  getRenderContext(e) {
    return e.declutter && !this.deferredContext_ && (this.deferredContext_ = new eu()), e.declutter ? this.deferredContext_.getContext() : this.context;
  }
  /**
   * @param {import("../../Map.js").FrameState} frameState Frame state.
   * @override
   */
  renderDeferred(e) {
    e.declutter && (this.dispatchRenderEvent_(
      Oe.PRERENDER,
      this.context,
      e
    ), e.declutter && this.deferredContext_ && (this.deferredContext_.draw(this.context), this.deferredContext_.clear()), this.renderDeferredInternal(e), this.dispatchRenderEvent_(
      Oe.POSTRENDER,
      this.context,
      e
    ));
  }
  /**
   * Creates a transform for rendering to an element that will be rotated after rendering.
   * @param {import("../../coordinate.js").Coordinate} center Center.
   * @param {number} resolution Resolution.
   * @param {number} rotation Rotation.
   * @param {number} pixelRatio Pixel ratio.
   * @param {number} width Width of the rendered element (in pixels).
   * @param {number} height Height of the rendered element (in pixels).
   * @param {number} offsetX Offset on the x-axis in view coordinates.
   * @protected
   * @return {!import("../../transform.js").Transform} Transform.
   */
  getRenderTransform(e, t, n, s, r, o, a) {
    const l = r / 2, c = o / 2, h = s / t, u = -h, d = -e[0] + a, f = -e[1];
    return wt(
      this.tempTransform,
      l,
      c,
      h,
      u,
      -n,
      d,
      f
    );
  }
  /**
   * Clean up.
   * @override
   */
  disposeInternal() {
    delete this.frameState, super.disposeInternal();
  }
}
class C_ extends iu {
  /**
   * @param {import("../../layer/BaseVector.js").default} vectorLayer Vector layer.
   */
  constructor(e) {
    super(e), this.boundHandleStyleImageChange_ = this.handleStyleImageChange_.bind(this), this.animatingOrInteracting_, this.hitDetectionImageData_ = null, this.clipped_ = !1, this.renderedFeatures_ = null, this.renderedRevision_ = -1, this.renderedResolution_ = NaN, this.renderedExtent_ = ut(), this.wrappedRenderedExtent_ = ut(), this.renderedRotation_, this.renderedCenter_ = null, this.renderedProjection_ = null, this.renderedPixelRatio_ = 1, this.renderedRenderOrder_ = null, this.renderedFrameDeclutter_, this.replayGroup_ = null, this.replayGroupChanged = !0, this.clipping = !0, this.targetContext_ = null, this.opacity_ = 1;
  }
  /**
   * @param {ExecutorGroup} executorGroup Executor group.
   * @param {import("../../Map.js").FrameState} frameState Frame state.
   * @param {boolean} [declutterable] `true` to only render declutterable items,
   *     `false` to only render non-declutterable items, `undefined` to render all.
   */
  renderWorlds(e, t, n) {
    const s = t.extent, r = t.viewState, o = r.center, a = r.resolution, l = r.projection, c = r.rotation, h = l.getExtent(), u = this.getLayer().getSource(), d = this.getLayer().getDeclutter(), f = t.pixelRatio, g = t.viewHints, m = !(g[De.ANIMATING] || g[De.INTERACTING]), _ = this.context, p = Math.round(ae(s) / a * f), x = Math.round(He(s) / a * f), v = u.getWrapX() && l.canWrapX(), E = v ? ae(h) : null, y = v ? Math.ceil((s[2] - h[2]) / E) + 1 : 1;
    let T = v ? Math.floor((s[0] - h[0]) / E) : 0;
    do {
      let S = this.getRenderTransform(
        o,
        a,
        0,
        f,
        p,
        x,
        T * E
      );
      t.declutter && (S = S.slice(0)), e.execute(
        _,
        [_.canvas.width, _.canvas.height],
        S,
        c,
        m,
        n === void 0 ? Fn : n ? tu : __,
        n ? d && t.declutter[d] : void 0
      );
    } while (++T < y);
  }
  /**
   * @private
   */
  setDrawContext_() {
    this.opacity_ !== 1 && (this.targetContext_ = this.context, this.context = Pe(
      this.context.canvas.width,
      this.context.canvas.height,
      pc
    ));
  }
  /**
   * @private
   */
  resetDrawContext_() {
    if (this.opacity_ !== 1 && this.targetContext_) {
      const e = this.targetContext_.globalAlpha;
      this.targetContext_.globalAlpha = this.opacity_, this.targetContext_.drawImage(this.context.canvas, 0, 0), this.targetContext_.globalAlpha = e, Wr(this.context), pc.push(this.context.canvas), this.context = this.targetContext_, this.targetContext_ = null;
    }
  }
  /**
   * Render declutter items for this layer
   * @param {import("../../Map.js").FrameState} frameState Frame state.
   */
  renderDeclutter(e) {
    !this.replayGroup_ || !this.getLayer().getDeclutter() || this.renderWorlds(this.replayGroup_, e, !0);
  }
  /**
   * Render deferred instructions.
   * @param {import("../../Map.js").FrameState} frameState Frame state.
   * @override
   */
  renderDeferredInternal(e) {
    this.replayGroup_ && (this.replayGroup_.renderDeferred(), this.clipped_ && this.context.restore(), this.resetDrawContext_());
  }
  /**
   * Render the layer.
   * @param {import("../../Map.js").FrameState} frameState Frame state.
   * @param {HTMLElement|null} target Target that may be used to render content to.
   * @return {HTMLElement} The rendered element.
   * @override
   */
  renderFrame(e, t) {
    const n = e.layerStatesArray[e.layerIndex];
    this.opacity_ = n.opacity;
    const s = e.viewState;
    this.prepareContainer(e, t);
    const r = this.context, o = this.replayGroup_;
    let a = o && !o.isEmpty();
    if (!a && !(this.getLayer().hasListener(Oe.PRERENDER) || this.getLayer().hasListener(Oe.POSTRENDER)))
      return this.container;
    if (this.setDrawContext_(), this.preRender(r, e), s.projection, this.clipped_ = !1, a && n.extent && this.clipping) {
      const l = en(n.extent);
      a = Ke(l, e.extent), this.clipped_ = a && !ji(l, e.extent), this.clipped_ && this.clipUnrotated(r, e, l);
    }
    return a && this.renderWorlds(
      o,
      e,
      this.getLayer().getDeclutter() ? !1 : void 0
    ), !e.declutter && this.clipped_ && r.restore(), this.postRender(r, e), this.renderedRotation_ !== s.rotation && (this.renderedRotation_ = s.rotation, this.hitDetectionImageData_ = null), e.declutter || this.resetDrawContext_(), this.container;
  }
  /**
   * Asynchronous layer level hit detection.
   * @param {import("../../pixel.js").Pixel} pixel Pixel.
   * @return {Promise<Array<import("../../Feature").default>>} Promise
   * that resolves with an array of features.
   * @override
   */
  getFeatures(e) {
    return new Promise((t) => {
      if (this.frameState && !this.hitDetectionImageData_ && !this.animatingOrInteracting_) {
        const n = this.frameState.size.slice(), s = this.renderedCenter_, r = this.renderedResolution_, o = this.renderedRotation_, a = this.renderedProjection_, l = this.wrappedRenderedExtent_, c = this.getLayer(), h = [], u = n[0] * Ot, d = n[1] * Ot;
        h.push(
          this.getRenderTransform(
            s,
            r,
            o,
            Ot,
            u,
            d,
            0
          ).slice()
        );
        const f = c.getSource(), g = a.getExtent();
        if (f.getWrapX() && a.canWrapX() && !ji(g, l)) {
          let m = l[0];
          const _ = ae(g);
          let p = 0, x;
          for (; m < g[0]; )
            --p, x = _ * p, h.push(
              this.getRenderTransform(
                s,
                r,
                o,
                Ot,
                u,
                d,
                x
              ).slice()
            ), m += _;
          for (p = 0, m = l[2]; m > g[2]; )
            ++p, x = _ * p, h.push(
              this.getRenderTransform(
                s,
                r,
                o,
                Ot,
                u,
                d,
                x
              ).slice()
            ), m -= _;
        }
        this.hitDetectionImageData_ = y_(
          n,
          h,
          this.renderedFeatures_,
          c.getStyleFunction(),
          l,
          r,
          o,
          ac(r, this.renderedPixelRatio_)
        );
      }
      t(
        x_(e, this.renderedFeatures_, this.hitDetectionImageData_)
      );
    });
  }
  /**
   * @param {import("../../coordinate.js").Coordinate} coordinate Coordinate.
   * @param {import("../../Map.js").FrameState} frameState Frame state.
   * @param {number} hitTolerance Hit tolerance in pixels.
   * @param {import("../vector.js").FeatureCallback<T>} callback Feature callback.
   * @param {Array<import("../Map.js").HitMatch<T>>} matches The hit detected matches with tolerance.
   * @return {T|undefined} Callback result.
   * @template T
   * @override
   */
  forEachFeatureAtCoordinate(e, t, n, s, r) {
    if (!this.replayGroup_)
      return;
    const o = t.viewState.resolution, a = t.viewState.rotation, l = this.getLayer(), c = {}, h = function(d, f, g) {
      const m = z(d), _ = c[m];
      if (_) {
        if (_ !== !0 && g < _.distanceSq) {
          if (g === 0)
            return c[m] = !0, r.splice(r.lastIndexOf(_), 1), s(d, l, f);
          _.geometry = f, _.distanceSq = g;
        }
      } else {
        if (g === 0)
          return c[m] = !0, s(d, l, f);
        r.push(
          c[m] = {
            feature: d,
            layer: l,
            geometry: f,
            distanceSq: g,
            callback: s
          }
        );
      }
    }, u = this.getLayer().getDeclutter();
    return this.replayGroup_.forEachFeatureAtCoordinate(
      e,
      o,
      a,
      n,
      h,
      u ? t.declutter?.[u]?.all().map((d) => d.value) : null
    );
  }
  /**
   * Perform action necessary to get the layer rendered after new fonts have loaded
   * @override
   */
  handleFontsChanged() {
    const e = this.getLayer();
    e.getVisible() && this.replayGroup_ && e.changed();
  }
  /**
   * Handle changes in image style state.
   * @param {import("../../events/Event.js").default} event Image style change event.
   * @private
   */
  handleStyleImageChange_(e) {
    this.renderIfReadyAndVisible();
  }
  /**
   * Determine whether render should be called.
   * @param {import("../../Map.js").FrameState} frameState Frame state.
   * @return {boolean} Layer is ready to be rendered.
   * @override
   */
  prepareFrame(e) {
    const t = this.getLayer(), n = t.getSource();
    if (!n)
      return !1;
    const s = e.viewHints[De.ANIMATING], r = e.viewHints[De.INTERACTING], o = t.getUpdateWhileAnimating(), a = t.getUpdateWhileInteracting();
    if (this.ready && !o && s || !a && r)
      return this.animatingOrInteracting_ = !0, !0;
    this.animatingOrInteracting_ = !1;
    const l = e.extent, c = e.viewState, h = c.projection, u = c.resolution, d = e.pixelRatio, f = t.getRevision(), g = t.getRenderBuffer();
    let m = t.getRenderOrder();
    m === void 0 && (m = Bg);
    const _ = c.center.slice(), p = Ps(
      l,
      g * u
    ), x = p.slice(), v = [p.slice()], E = h.getExtent();
    if (n.getWrapX() && h.canWrapX() && !ji(E, e.extent)) {
      const R = ae(E), A = Math.max(ae(p) / 2, R);
      p[0] = E[0] - A, p[2] = E[2] + A, fh(_, h);
      const b = uh(v[0], h);
      b[0] < E[0] && b[2] < E[2] ? v.push([
        b[0] + R,
        b[1],
        b[2] + R,
        b[3]
      ]) : b[0] > E[0] && b[2] > E[2] && v.push([
        b[0] - R,
        b[1],
        b[2] - R,
        b[3]
      ]);
    }
    if (this.ready && this.renderedResolution_ == u && this.renderedRevision_ == f && this.renderedRenderOrder_ == m && this.renderedFrameDeclutter_ === !!e.declutter && ji(this.wrappedRenderedExtent_, p))
      return $t(this.renderedExtent_, x) || (this.hitDetectionImageData_ = null, this.renderedExtent_ = x), this.renderedCenter_ = _, this.replayGroupChanged = !1, !0;
    this.replayGroup_ = null;
    const y = new h_(
      Kh(u, d),
      p,
      u,
      d
    );
    let T;
    for (let R = 0, A = v.length; R < A; ++R)
      n.loadFeatures(v[R], u, h);
    const S = ac(u, d);
    let w = !0;
    const P = (
      /**
       * @param {import("../../Feature.js").default} feature Feature.
       * @param {number} index Index.
       */
      (R, A) => {
        let b;
        const D = R.getStyleFunction() || t.getStyleFunction();
        if (D && (b = D(R, u)), b) {
          const O = this.renderFeature(
            R,
            S,
            b,
            y,
            T,
            this.getLayer().getDeclutter(),
            A
          );
          w = w && !O;
        }
      }
    ), M = Fa(p), U = n.getFeaturesInExtent(M);
    m && U.sort(m);
    for (let R = 0, A = U.length; R < A; ++R)
      P(U[R], R);
    this.renderedFeatures_ = U, this.ready = w;
    const k = y.finish(), F = new m_(
      p,
      u,
      d,
      n.getOverlaps(),
      k,
      t.getRenderBuffer(),
      !!e.declutter
    );
    return this.renderedResolution_ = u, this.renderedRevision_ = f, this.renderedRenderOrder_ = m, this.renderedFrameDeclutter_ = !!e.declutter, this.renderedExtent_ = x, this.wrappedRenderedExtent_ = p, this.renderedCenter_ = _, this.renderedProjection_ = h, this.renderedPixelRatio_ = d, this.replayGroup_ = F, this.hitDetectionImageData_ = null, this.replayGroupChanged = !0, !0;
  }
  /**
   * @param {import("../../Feature.js").default} feature Feature.
   * @param {number} squaredTolerance Squared render tolerance.
   * @param {import("../../style/Style.js").default|Array<import("../../style/Style.js").default>} styles The style or array of styles.
   * @param {import("../../render/canvas/BuilderGroup.js").default} builderGroup Builder group.
   * @param {import("../../proj.js").TransformFunction} [transform] Transform from user to view projection.
   * @param {boolean} [declutter] Enable decluttering.
   * @param {number} [index] Render order index.
   * @return {boolean} `true` if an image is loading.
   */
  renderFeature(e, t, n, s, r, o, a) {
    if (!n)
      return !1;
    let l = !1;
    if (Array.isArray(n))
      for (let c = 0, h = n.length; c < h; ++c)
        l = lc(
          s,
          e,
          n[c],
          t,
          this.boundHandleStyleImageChange_,
          r,
          o,
          a
        ) || l;
    else
      l = lc(
        s,
        e,
        n,
        t,
        this.boundHandleStyleImageChange_,
        r,
        o,
        a
      );
    return l;
  }
}
let Zn = 0;
const Se = 1 << Zn++, B = 1 << Zn++, Re = 1 << Zn++, ue = 1 << Zn++, ot = 1 << Zn++, xt = 1 << Zn++, er = Math.pow(2, Zn) - 1, Za = {
  [Se]: "boolean",
  [B]: "number",
  [Re]: "string",
  [ue]: "color",
  [ot]: "number[]",
  [xt]: "size"
}, T_ = Object.keys(Za).map(Number).sort(nn);
function S_(i) {
  return i in Za;
}
function pi(i) {
  const e = [];
  for (const t of T_)
    Hi(i, t) && e.push(Za[t]);
  return e.length === 0 ? "untyped" : e.length < 3 ? e.join(" or ") : e.slice(0, -1).join(", ") + ", or " + e[e.length - 1];
}
function Hi(i, e) {
  return (i & e) === e;
}
function Dt(i, e) {
  return i === e;
}
class Te {
  /**
   * @param {number} type The value type.
   * @param {LiteralValue} value The literal value.
   */
  constructor(e, t) {
    if (!S_(e))
      throw new Error(
        `literal expressions must have a specific type, got ${pi(e)}`
      );
    this.type = e, this.value = t;
  }
}
class su {
  /**
   * @param {number} type The return type.
   * @param {string} operator The operator.
   * @param {...Expression} args The arguments.
   */
  constructor(e, t, ...n) {
    this.type = e, this.operator = t, this.args = n;
  }
}
function Ka() {
  return {
    variables: /* @__PURE__ */ new Set(),
    properties: /* @__PURE__ */ new Set(),
    featureId: !1,
    geometryType: !1,
    mapState: !1
  };
}
function ke(i, e, t) {
  switch (typeof i) {
    case "boolean": {
      if (Dt(e, Re))
        return new Te(Re, i ? "true" : "false");
      if (!Hi(e, Se))
        throw new Error(
          `got a boolean, but expected ${pi(e)}`
        );
      return new Te(Se, i);
    }
    case "number": {
      if (Dt(e, xt))
        return new Te(xt, qe(i));
      if (Dt(e, Se))
        return new Te(Se, !!i);
      if (Dt(e, Re))
        return new Te(Re, i.toString());
      if (!Hi(e, B))
        throw new Error(`got a number, but expected ${pi(e)}`);
      return new Te(B, i);
    }
    case "string": {
      if (Dt(e, ue))
        return new Te(ue, Wa(i));
      if (Dt(e, Se))
        return new Te(Se, !!i);
      if (!Hi(e, Re))
        throw new Error(`got a string, but expected ${pi(e)}`);
      return new Te(Re, i);
    }
  }
  if (!Array.isArray(i))
    throw new Error("expression must be an array or a primitive value");
  if (i.length === 0)
    throw new Error("empty expression");
  if (typeof i[0] == "string")
    return O_(i, e, t);
  for (const n of i)
    if (typeof n != "number")
      throw new Error("expected an array of numbers");
  if (Dt(e, xt)) {
    if (i.length !== 2)
      throw new Error(
        `expected an array of two values for a size, got ${i.length}`
      );
    return new Te(xt, i);
  }
  if (Dt(e, ue)) {
    if (i.length === 3)
      return new Te(ue, [...i, 1]);
    if (i.length === 4)
      return new Te(ue, i);
    throw new Error(
      `expected an array of 3 or 4 values for a color, got ${i.length}`
    );
  }
  if (!Hi(e, ot))
    throw new Error(
      `got an array of numbers, but expected ${pi(e)}`
    );
  return new Te(ot, i);
}
const C = {
  Get: "get",
  Var: "var",
  Concat: "concat",
  GeometryType: "geometry-type",
  LineMetric: "line-metric",
  Any: "any",
  All: "all",
  Not: "!",
  Resolution: "resolution",
  Zoom: "zoom",
  Time: "time",
  Equal: "==",
  NotEqual: "!=",
  GreaterThan: ">",
  GreaterThanOrEqualTo: ">=",
  LessThan: "<",
  LessThanOrEqualTo: "<=",
  Multiply: "*",
  Divide: "/",
  Add: "+",
  Subtract: "-",
  Clamp: "clamp",
  Mod: "%",
  Pow: "^",
  Abs: "abs",
  Floor: "floor",
  Ceil: "ceil",
  Round: "round",
  Sin: "sin",
  Cos: "cos",
  Atan: "atan",
  Sqrt: "sqrt",
  Match: "match",
  Between: "between",
  Interpolate: "interpolate",
  Coalesce: "coalesce",
  Case: "case",
  In: "in",
  Number: "number",
  String: "string",
  Array: "array",
  Color: "color",
  Id: "id",
  Band: "band",
  Palette: "palette",
  ToString: "to-string",
  Has: "has"
}, R_ = {
  [C.Get]: V(H(1, 1 / 0), yc),
  [C.Var]: V(H(1, 1), w_),
  [C.Has]: V(H(1, 1 / 0), yc),
  [C.Id]: V(P_, ii),
  [C.Concat]: V(
    H(2, 1 / 0),
    re(Re)
  ),
  [C.GeometryType]: V(I_, ii),
  [C.LineMetric]: V(ii),
  [C.Resolution]: V(To, ii),
  [C.Zoom]: V(To, ii),
  [C.Time]: V(To, ii),
  [C.Any]: V(
    H(2, 1 / 0),
    re(Se)
  ),
  [C.All]: V(
    H(2, 1 / 0),
    re(Se)
  ),
  [C.Not]: V(
    H(1, 1),
    re(Se)
  ),
  [C.Equal]: V(
    H(2, 2),
    re(er)
  ),
  [C.NotEqual]: V(
    H(2, 2),
    re(er)
  ),
  [C.GreaterThan]: V(
    H(2, 2),
    re(B)
  ),
  [C.GreaterThanOrEqualTo]: V(
    H(2, 2),
    re(B)
  ),
  [C.LessThan]: V(
    H(2, 2),
    re(B)
  ),
  [C.LessThanOrEqualTo]: V(
    H(2, 2),
    re(B)
  ),
  [C.Multiply]: V(
    H(2, 1 / 0),
    xc
  ),
  [C.Coalesce]: V(
    H(2, 1 / 0),
    xc
  ),
  [C.Divide]: V(
    H(2, 2),
    re(B)
  ),
  [C.Add]: V(
    H(2, 1 / 0),
    re(B)
  ),
  [C.Subtract]: V(
    H(2, 2),
    re(B)
  ),
  [C.Clamp]: V(
    H(3, 3),
    re(B)
  ),
  [C.Mod]: V(
    H(2, 2),
    re(B)
  ),
  [C.Pow]: V(
    H(2, 2),
    re(B)
  ),
  [C.Abs]: V(
    H(1, 1),
    re(B)
  ),
  [C.Floor]: V(
    H(1, 1),
    re(B)
  ),
  [C.Ceil]: V(
    H(1, 1),
    re(B)
  ),
  [C.Round]: V(
    H(1, 1),
    re(B)
  ),
  [C.Sin]: V(
    H(1, 1),
    re(B)
  ),
  [C.Cos]: V(
    H(1, 1),
    re(B)
  ),
  [C.Atan]: V(
    H(1, 2),
    re(B)
  ),
  [C.Sqrt]: V(
    H(1, 1),
    re(B)
  ),
  [C.Match]: V(
    H(4, 1 / 0),
    Ec,
    F_
  ),
  [C.Between]: V(
    H(3, 3),
    re(B)
  ),
  [C.Interpolate]: V(
    H(6, 1 / 0),
    Ec,
    b_
  ),
  [C.Case]: V(
    H(3, 1 / 0),
    A_,
    L_
  ),
  [C.In]: V(H(2, 2), M_),
  [C.Number]: V(
    H(1, 1 / 0),
    re(er)
  ),
  [C.String]: V(
    H(1, 1 / 0),
    re(er)
  ),
  [C.Array]: V(
    H(1, 1 / 0),
    re(B)
  ),
  [C.Color]: V(
    H(1, 4),
    re(B)
  ),
  [C.Band]: V(
    H(1, 3),
    re(B)
  ),
  [C.Palette]: V(
    H(2, 2),
    D_
  ),
  [C.ToString]: V(
    H(1, 1),
    re(Se | B | Re | ue)
  )
};
function yc(i, e, t) {
  const n = i.length - 1, s = new Array(n);
  for (let r = 0; r < n; ++r) {
    const o = i[r + 1];
    switch (typeof o) {
      case "number": {
        s[r] = new Te(B, o);
        break;
      }
      case "string": {
        s[r] = new Te(Re, o);
        break;
      }
      default:
        throw new Error(
          `expected a string key or numeric array index for a get operation, got ${o}`
        );
    }
    r === 0 && t.properties.add(String(o));
  }
  return s;
}
function w_(i, e, t) {
  const n = i[1];
  if (typeof n != "string")
    throw new Error("expected a string argument for var operation");
  return t.variables.add(n), [new Te(Re, n)];
}
function P_(i, e, t) {
  t.featureId = !0;
}
function I_(i, e, t) {
  t.geometryType = !0;
}
function To(i, e, t) {
  t.mapState = !0;
}
function ii(i, e, t) {
  const n = i[0];
  if (i.length !== 1)
    throw new Error(`expected no arguments for ${n} operation`);
  return [];
}
function H(i, e) {
  return function(t, n, s) {
    const r = t[0], o = t.length - 1;
    if (i === e) {
      if (o !== i) {
        const a = i === 1 ? "" : "s";
        throw new Error(
          `expected ${i} argument${a} for ${r}, got ${o}`
        );
      }
    } else if (o < i || o > e) {
      const a = e === 1 / 0 ? `${i} or more` : `${i} to ${e}`;
      throw new Error(
        `expected ${a} arguments for ${r}, got ${o}`
      );
    }
  };
}
function xc(i, e, t) {
  const n = i.length - 1, s = new Array(n);
  for (let r = 0; r < n; ++r) {
    const o = ke(i[r + 1], e, t);
    s[r] = o;
  }
  return s;
}
function re(i) {
  return function(e, t, n) {
    const s = e.length - 1, r = new Array(s);
    for (let o = 0; o < s; ++o) {
      const a = ke(e[o + 1], i, n);
      r[o] = a;
    }
    return r;
  };
}
function A_(i, e, t) {
  const n = i[0], s = i.length - 1;
  if (s % 2 === 0)
    throw new Error(
      `expected an odd number of arguments for ${n}, got ${s} instead`
    );
}
function Ec(i, e, t) {
  const n = i[0], s = i.length - 1;
  if (s % 2 === 1)
    throw new Error(
      `expected an even number of arguments for operation ${n}, got ${s} instead`
    );
}
function F_(i, e, t) {
  const n = i.length - 1, s = Re | B | Se, r = ke(i[1], s, t), o = ke(i[i.length - 1], e, t), a = new Array(n - 2);
  for (let l = 0; l < n - 2; l += 2) {
    try {
      const c = ke(i[l + 2], r.type, t);
      a[l] = c;
    } catch (c) {
      throw new Error(
        `failed to parse argument ${l + 1} of match expression: ${c.message}`
      );
    }
    try {
      const c = ke(i[l + 3], o.type, t);
      a[l + 1] = c;
    } catch (c) {
      throw new Error(
        `failed to parse argument ${l + 2} of match expression: ${c.message}`
      );
    }
  }
  return [r, ...a, o];
}
function b_(i, e, t) {
  const n = i[1];
  let s;
  switch (n[0]) {
    case "linear":
      s = 1;
      break;
    case "exponential":
      const l = n[1];
      if (typeof l != "number" || l <= 0)
        throw new Error(
          `expected a number base for exponential interpolation, got ${JSON.stringify(l)} instead`
        );
      s = l;
      break;
    default:
      throw new Error(
        `invalid interpolation type: ${JSON.stringify(n)}`
      );
  }
  const r = new Te(B, s);
  let o;
  try {
    o = ke(i[2], B, t);
  } catch (l) {
    throw new Error(
      `failed to parse argument 1 in interpolate expression: ${l.message}`
    );
  }
  const a = new Array(i.length - 3);
  for (let l = 0; l < a.length; l += 2) {
    try {
      const c = ke(i[l + 3], B, t);
      a[l] = c;
    } catch (c) {
      throw new Error(
        `failed to parse argument ${l + 2} for interpolate expression: ${c.message}`
      );
    }
    try {
      const c = ke(i[l + 4], e, t);
      a[l + 1] = c;
    } catch (c) {
      throw new Error(
        `failed to parse argument ${l + 3} for interpolate expression: ${c.message}`
      );
    }
  }
  return [r, o, ...a];
}
function L_(i, e, t) {
  const n = ke(i[i.length - 1], e, t), s = new Array(i.length - 1);
  for (let r = 0; r < s.length - 1; r += 2) {
    try {
      const o = ke(i[r + 1], Se, t);
      s[r] = o;
    } catch (o) {
      throw new Error(
        `failed to parse argument ${r} of case expression: ${o.message}`
      );
    }
    try {
      const o = ke(i[r + 2], n.type, t);
      s[r + 1] = o;
    } catch (o) {
      throw new Error(
        `failed to parse argument ${r + 1} of case expression: ${o.message}`
      );
    }
  }
  return s[s.length - 1] = n, s;
}
function M_(i, e, t) {
  let n = i[2];
  if (!Array.isArray(n))
    throw new Error(
      'the second argument for the "in" operator must be an array'
    );
  let s;
  if (typeof n[0] == "string") {
    if (n[0] !== "literal")
      throw new Error(
        'for the "in" operator, a string array should be wrapped in a "literal" operator to disambiguate from expressions'
      );
    if (!Array.isArray(n[1]))
      throw new Error(
        'failed to parse "in" expression: the literal operator must be followed by an array'
      );
    n = n[1], s = Re;
  } else
    s = B;
  const r = new Array(n.length);
  for (let a = 0; a < r.length; a++)
    try {
      const l = ke(n[a], s, t);
      r[a] = l;
    } catch (l) {
      throw new Error(
        `failed to parse haystack item ${a} for "in" expression: ${l.message}`
      );
    }
  return [ke(i[1], s, t), ...r];
}
function D_(i, e, t) {
  let n;
  try {
    n = ke(i[1], B, t);
  } catch (o) {
    throw new Error(
      `failed to parse first argument in palette expression: ${o.message}`
    );
  }
  const s = i[2];
  if (!Array.isArray(s))
    throw new Error("the second argument of palette must be an array");
  const r = new Array(s.length);
  for (let o = 0; o < r.length; o++) {
    let a;
    try {
      a = ke(s[o], ue, t);
    } catch (l) {
      throw new Error(
        `failed to parse color at index ${o} in palette expression: ${l.message}`
      );
    }
    if (!(a instanceof Te))
      throw new Error(
        `the palette color at index ${o} must be a literal value`
      );
    r[o] = a;
  }
  return [n, ...r];
}
function V(...i) {
  return function(e, t, n) {
    const s = e[0];
    let r;
    for (let o = 0; o < i.length; o++) {
      const a = i[o](e, t, n);
      if (o == i.length - 1) {
        if (!a)
          throw new Error(
            "expected last argument validator to return the parsed args"
          );
        r = a;
      }
    }
    return new su(t, s, ...r);
  };
}
function O_(i, e, t) {
  const n = i[0], s = R_[n];
  if (!s)
    throw new Error(`unknown operator: ${n}`);
  return s(i, e, t);
}
function Ha(i) {
  if (!i)
    return "";
  const e = i.getType();
  switch (e) {
    case "Point":
    case "LineString":
    case "Polygon":
      return e;
    case "MultiPoint":
    case "MultiLineString":
    case "MultiPolygon":
      return (
        /** @type {'Point'|'LineString'|'Polygon'} */
        e.substring(5)
      );
    case "Circle":
      return "Polygon";
    case "GeometryCollection":
      return Ha(
        /** @type {import("../geom/GeometryCollection.js").default} */
        i.getGeometries()[0]
      );
    default:
      return "";
  }
}
function ru() {
  return {
    variables: {},
    properties: {},
    resolution: NaN,
    featureId: null,
    geometryType: ""
  };
}
function an(i, e, t) {
  const n = ke(i, e, t);
  return It(n);
}
function It(i, e) {
  if (i instanceof Te) {
    if (i.type === ue && typeof i.value == "string") {
      const n = Wa(i.value);
      return function() {
        return n;
      };
    }
    return function() {
      return i.value;
    };
  }
  const t = i.operator;
  switch (t) {
    case C.Number:
    case C.String:
    case C.Coalesce:
      return N_(i);
    case C.Get:
    case C.Var:
    case C.Has:
      return k_(i);
    case C.Id:
      return (n) => n.featureId;
    case C.GeometryType:
      return (n) => n.geometryType;
    case C.Concat: {
      const n = i.args.map((s) => It(s));
      return (s) => "".concat(...n.map((r) => r(s).toString()));
    }
    case C.Resolution:
      return (n) => n.resolution;
    case C.Any:
    case C.All:
    case C.Between:
    case C.In:
    case C.Not:
      return B_(i);
    case C.Equal:
    case C.NotEqual:
    case C.LessThan:
    case C.LessThanOrEqualTo:
    case C.GreaterThan:
    case C.GreaterThanOrEqualTo:
      return G_(i);
    case C.Multiply:
    case C.Divide:
    case C.Add:
    case C.Subtract:
    case C.Clamp:
    case C.Mod:
    case C.Pow:
    case C.Abs:
    case C.Floor:
    case C.Ceil:
    case C.Round:
    case C.Sin:
    case C.Cos:
    case C.Atan:
    case C.Sqrt:
      return U_(i);
    case C.Case:
      return z_(i);
    case C.Match:
      return $_(i);
    case C.Interpolate:
      return W_(i);
    case C.ToString:
      return V_(i);
    default:
      throw new Error(`Unsupported operator ${t}`);
  }
}
function N_(i, e) {
  const t = i.operator, n = i.args.length, s = new Array(n);
  for (let r = 0; r < n; ++r)
    s[r] = It(i.args[r]);
  switch (t) {
    case C.Coalesce:
      return (r) => {
        for (let o = 0; o < n; ++o) {
          const a = s[o](r);
          if (typeof a < "u" && a !== null)
            return a;
        }
        throw new Error("Expected one of the values to be non-null");
      };
    case C.Number:
    case C.String:
      return (r) => {
        for (let o = 0; o < n; ++o) {
          const a = s[o](r);
          if (typeof a === t)
            return a;
        }
        throw new Error(`Expected one of the values to be a ${t}`);
      };
    default:
      throw new Error(`Unsupported assertion operator ${t}`);
  }
}
function k_(i, e) {
  const n = (
    /** @type {string} */
    /** @type {LiteralExpression} */
    i.args[0].value
  );
  switch (i.operator) {
    case C.Get:
      return (s) => {
        const r = i.args;
        let o = s.properties[n];
        for (let a = 1, l = r.length; a < l; ++a) {
          const h = (
            /** @type {string|number} */
            /** @type {LiteralExpression} */
            r[a].value
          );
          o = o[h];
        }
        return o;
      };
    case C.Var:
      return (s) => s.variables[n];
    case C.Has:
      return (s) => {
        const r = i.args;
        if (!(n in s.properties))
          return !1;
        let o = s.properties[n];
        for (let a = 1, l = r.length; a < l; ++a) {
          const h = (
            /** @type {string|number} */
            /** @type {LiteralExpression} */
            r[a].value
          );
          if (!o || !Object.hasOwn(o, h))
            return !1;
          o = o[h];
        }
        return !0;
      };
    default:
      throw new Error(`Unsupported accessor operator ${i.operator}`);
  }
}
function G_(i, e) {
  const t = i.operator, n = It(i.args[0]), s = It(i.args[1]);
  switch (t) {
    case C.Equal:
      return (r) => n(r) === s(r);
    case C.NotEqual:
      return (r) => n(r) !== s(r);
    case C.LessThan:
      return (r) => n(r) < s(r);
    case C.LessThanOrEqualTo:
      return (r) => n(r) <= s(r);
    case C.GreaterThan:
      return (r) => n(r) > s(r);
    case C.GreaterThanOrEqualTo:
      return (r) => n(r) >= s(r);
    default:
      throw new Error(`Unsupported comparison operator ${t}`);
  }
}
function B_(i, e) {
  const t = i.operator, n = i.args.length, s = new Array(n);
  for (let r = 0; r < n; ++r)
    s[r] = It(i.args[r]);
  switch (t) {
    case C.Any:
      return (r) => {
        for (let o = 0; o < n; ++o)
          if (s[o](r))
            return !0;
        return !1;
      };
    case C.All:
      return (r) => {
        for (let o = 0; o < n; ++o)
          if (!s[o](r))
            return !1;
        return !0;
      };
    case C.Between:
      return (r) => {
        const o = s[0](r), a = s[1](r), l = s[2](r);
        return o >= a && o <= l;
      };
    case C.In:
      return (r) => {
        const o = s[0](r);
        for (let a = 1; a < n; ++a)
          if (o === s[a](r))
            return !0;
        return !1;
      };
    case C.Not:
      return (r) => !s[0](r);
    default:
      throw new Error(`Unsupported logical operator ${t}`);
  }
}
function U_(i, e) {
  const t = i.operator, n = i.args.length, s = new Array(n);
  for (let r = 0; r < n; ++r)
    s[r] = It(i.args[r]);
  switch (t) {
    case C.Multiply:
      return (r) => {
        let o = 1;
        for (let a = 0; a < n; ++a)
          o *= s[a](r);
        return o;
      };
    case C.Divide:
      return (r) => s[0](r) / s[1](r);
    case C.Add:
      return (r) => {
        let o = 0;
        for (let a = 0; a < n; ++a)
          o += s[a](r);
        return o;
      };
    case C.Subtract:
      return (r) => s[0](r) - s[1](r);
    case C.Clamp:
      return (r) => {
        const o = s[0](r), a = s[1](r);
        if (o < a)
          return a;
        const l = s[2](r);
        return o > l ? l : o;
      };
    case C.Mod:
      return (r) => s[0](r) % s[1](r);
    case C.Pow:
      return (r) => Math.pow(s[0](r), s[1](r));
    case C.Abs:
      return (r) => Math.abs(s[0](r));
    case C.Floor:
      return (r) => Math.floor(s[0](r));
    case C.Ceil:
      return (r) => Math.ceil(s[0](r));
    case C.Round:
      return (r) => Math.round(s[0](r));
    case C.Sin:
      return (r) => Math.sin(s[0](r));
    case C.Cos:
      return (r) => Math.cos(s[0](r));
    case C.Atan:
      return n === 2 ? (r) => Math.atan2(s[0](r), s[1](r)) : (r) => Math.atan(s[0](r));
    case C.Sqrt:
      return (r) => Math.sqrt(s[0](r));
    default:
      throw new Error(`Unsupported numeric operator ${t}`);
  }
}
function z_(i, e) {
  const t = i.args.length, n = new Array(t);
  for (let s = 0; s < t; ++s)
    n[s] = It(i.args[s]);
  return (s) => {
    for (let r = 0; r < t - 1; r += 2)
      if (n[r](s))
        return n[r + 1](s);
    return n[t - 1](s);
  };
}
function $_(i, e) {
  const t = i.args.length, n = new Array(t);
  for (let s = 0; s < t; ++s)
    n[s] = It(i.args[s]);
  return (s) => {
    const r = n[0](s);
    for (let o = 1; o < t - 1; o += 2)
      if (r === n[o](s))
        return n[o + 1](s);
    return n[t - 1](s);
  };
}
function W_(i, e) {
  const t = i.args.length, n = new Array(t);
  for (let s = 0; s < t; ++s)
    n[s] = It(i.args[s]);
  return (s) => {
    const r = n[0](s), o = n[1](s);
    let a, l;
    for (let c = 2; c < t; c += 2) {
      const h = n[c](s);
      let u = n[c + 1](s);
      const d = Array.isArray(u);
      if (d && (u = mg(u)), h >= o)
        return c === 2 ? u : d ? X_(
          r,
          o,
          a,
          l,
          h,
          u
        ) : qi(
          r,
          o,
          a,
          l,
          h,
          u
        );
      a = h, l = u;
    }
    return l;
  };
}
function V_(i, e) {
  const t = i.operator, n = i.args.length, s = new Array(n);
  for (let r = 0; r < n; ++r)
    s[r] = It(i.args[r]);
  if (t === C.ToString)
    return (r) => {
      const o = s[0](r);
      return i.args[0].type === ue ? Va(o) : o.toString();
    };
  throw new Error(`Unsupported convert operator ${t}`);
}
function qi(i, e, t, n, s, r) {
  const o = s - t;
  if (o === 0)
    return n;
  const a = e - t, l = i === 1 ? a / o : (Math.pow(i, a) - 1) / (Math.pow(i, o) - 1);
  return n + l * (r - n);
}
function X_(i, e, t, n, s, r) {
  if (s - t === 0)
    return n;
  const a = Jl(n), l = Jl(r);
  let c = l[2] - a[2];
  c > 180 ? c -= 360 : c < -180 && (c += 360);
  const h = [
    qi(i, e, t, a[0], s, l[0]),
    qi(i, e, t, a[1], s, l[1]),
    a[2] + qi(i, e, t, 0, s, c),
    qi(i, e, t, n[3], s, r[3])
  ];
  return pg(h);
}
function j_(i) {
  return !0;
}
function Y_(i) {
  const e = Ka(), t = Z_(i, e), n = ru();
  return function(s, r) {
    if (n.properties = s.getPropertiesInternal(), n.resolution = r, e.featureId) {
      const o = s.getId();
      o !== void 0 ? n.featureId = o : n.featureId = null;
    }
    return e.geometryType && (n.geometryType = Ha(
      s.getGeometry()
    )), t(n);
  };
}
function vc(i) {
  const e = Ka(), t = i.length, n = new Array(t);
  for (let o = 0; o < t; ++o)
    n[o] = la(i[o], e);
  const s = ru(), r = new Array(t);
  return function(o, a) {
    if (s.properties = o.getPropertiesInternal(), s.resolution = a, e.featureId) {
      const c = o.getId();
      c !== void 0 ? s.featureId = c : s.featureId = null;
    }
    let l = 0;
    for (let c = 0; c < t; ++c) {
      const h = n[c](s);
      h && (r[l] = h, l += 1);
    }
    return r.length = l, r;
  };
}
function Z_(i, e) {
  const t = i.length, n = new Array(t);
  for (let s = 0; s < t; ++s) {
    const r = i[s], o = "filter" in r ? an(r.filter, Se, e) : j_;
    let a;
    if (Array.isArray(r.style)) {
      const l = r.style.length;
      a = new Array(l);
      for (let c = 0; c < l; ++c)
        a[c] = la(r.style[c], e);
    } else
      a = [la(r.style, e)];
    n[s] = { filter: o, styles: a };
  }
  return function(s) {
    const r = [];
    let o = !1;
    for (let a = 0; a < t; ++a) {
      const l = n[a].filter;
      if (l(s) && !(i[a].else && o)) {
        o = !0;
        for (const c of n[a].styles) {
          const h = c(s);
          h && r.push(h);
        }
      }
    }
    return r;
  };
}
function la(i, e) {
  const t = Cs(i, "", e), n = Ts(i, "", e), s = K_(i, e), r = H_(i, e), o = nt(i, "z-index", e);
  if (!t && !n && !s && !r && !Bn(i))
    throw new Error(
      "No fill, stroke, point, or text symbolizer properties in style: " + JSON.stringify(i)
    );
  const a = new Ne();
  return function(l) {
    let c = !0;
    if (t) {
      const h = t(l);
      h && (c = !1), a.setFill(h);
    }
    if (n) {
      const h = n(l);
      h && (c = !1), a.setStroke(h);
    }
    if (s) {
      const h = s(l);
      h && (c = !1), a.setText(h);
    }
    if (r) {
      const h = r(l);
      h && (c = !1), a.setImage(h);
    }
    return o && a.setZIndex(o(l)), c ? null : a;
  };
}
function Cs(i, e, t) {
  let n;
  if (e + "fill-pattern-src" in i)
    n = em(i, e + "fill-", t);
  else {
    if (i[e + "fill-color"] === "none")
      return (r) => null;
    n = qa(
      i,
      e + "fill-color",
      t
    );
  }
  if (!n)
    return null;
  const s = new vt();
  return function(r) {
    const o = n(r);
    return o === $a ? null : (s.setColor(o), s);
  };
}
function Ts(i, e, t) {
  const n = nt(
    i,
    e + "stroke-width",
    t
  ), s = qa(
    i,
    e + "stroke-color",
    t
  );
  if (!n && !s)
    return null;
  const r = Ht(
    i,
    e + "stroke-line-cap",
    t
  ), o = Ht(
    i,
    e + "stroke-line-join",
    t
  ), a = ou(
    i,
    e + "stroke-line-dash",
    t
  ), l = nt(
    i,
    e + "stroke-line-dash-offset",
    t
  ), c = nt(
    i,
    e + "stroke-miter-limit",
    t
  ), h = new Rt();
  return function(u) {
    if (s) {
      const d = s(u);
      if (d === $a)
        return null;
      h.setColor(d);
    }
    if (n && h.setWidth(n(u)), r) {
      const d = r(u);
      if (d !== "butt" && d !== "round" && d !== "square")
        throw new Error("Expected butt, round, or square line cap");
      h.setLineCap(d);
    }
    if (o) {
      const d = o(u);
      if (d !== "bevel" && d !== "round" && d !== "miter")
        throw new Error("Expected bevel, round, or miter line join");
      h.setLineJoin(d);
    }
    return a && h.setLineDash(a(u)), l && h.setLineDashOffset(l(u)), c && h.setMiterLimit(c(u)), h;
  };
}
function K_(i, e) {
  const t = "text-", n = Ht(i, t + "value", e);
  if (!n)
    return null;
  const s = Cs(i, t, e), r = Cs(
    i,
    t + "background-",
    e
  ), o = Ts(i, t, e), a = Ts(
    i,
    t + "background-",
    e
  ), l = Ht(i, t + "font", e), c = nt(
    i,
    t + "max-angle",
    e
  ), h = nt(
    i,
    t + "offset-x",
    e
  ), u = nt(
    i,
    t + "offset-y",
    e
  ), d = Ei(
    i,
    t + "overflow",
    e
  ), f = Ht(
    i,
    t + "placement",
    e
  ), g = nt(i, t + "repeat", e), m = Zr(i, t + "scale", e), _ = Ei(
    i,
    t + "rotate-with-view",
    e
  ), p = nt(
    i,
    t + "rotation",
    e
  ), x = Ht(i, t + "align", e), v = Ht(
    i,
    t + "justify",
    e
  ), E = Ht(
    i,
    t + "baseline",
    e
  ), y = Ei(
    i,
    t + "keep-upright",
    e
  ), T = ou(
    i,
    t + "padding",
    e
  ), S = Kr(
    i,
    t + "declutter-mode"
  ), w = new ja({ declutterMode: S });
  return function(P) {
    if (w.setText(n(P)), s && w.setFill(s(P)), r && w.setBackgroundFill(r(P)), o && w.setStroke(o(P)), a && w.setBackgroundStroke(a(P)), l && w.setFont(l(P)), c && w.setMaxAngle(c(P)), h && w.setOffsetX(h(P)), u && w.setOffsetY(u(P)), d && w.setOverflow(d(P)), f) {
      const M = f(P);
      if (M !== "point" && M !== "line")
        throw new Error("Expected point or line for text-placement");
      w.setPlacement(M);
    }
    if (g && w.setRepeat(g(P)), m && w.setScale(m(P)), _ && w.setRotateWithView(_(P)), p && w.setRotation(p(P)), x) {
      const M = x(P);
      if (M !== "left" && M !== "center" && M !== "right" && M !== "end" && M !== "start")
        throw new Error(
          "Expected left, right, center, start, or end for text-align"
        );
      w.setTextAlign(M);
    }
    if (v) {
      const M = v(P);
      if (M !== "left" && M !== "right" && M !== "center")
        throw new Error("Expected left, right, or center for text-justify");
      w.setJustify(M);
    }
    if (E) {
      const M = E(P);
      if (M !== "bottom" && M !== "top" && M !== "middle" && M !== "alphabetic" && M !== "hanging")
        throw new Error(
          "Expected bottom, top, middle, alphabetic, or hanging for text-baseline"
        );
      w.setTextBaseline(M);
    }
    return T && w.setPadding(T(P)), y && w.setKeepUpright(y(P)), w;
  };
}
function H_(i, e) {
  return "icon-src" in i ? q_(i, e) : "shape-points" in i ? J_(i, e) : "circle-radius" in i ? Q_(i, e) : null;
}
function q_(i, e) {
  const t = "icon-", n = t + "src", s = au(i[n], n), r = Tr(
    i,
    t + "anchor",
    e
  ), o = Zr(i, t + "scale", e), a = nt(
    i,
    t + "opacity",
    e
  ), l = Tr(
    i,
    t + "displacement",
    e
  ), c = nt(
    i,
    t + "rotation",
    e
  ), h = Ei(
    i,
    t + "rotate-with-view",
    e
  ), u = Tc(i, t + "anchor-origin"), d = Sc(
    i,
    t + "anchor-x-units"
  ), f = Sc(
    i,
    t + "anchor-y-units"
  ), g = sm(i, t + "color"), m = nm(i, t + "cross-origin"), _ = im(i, t + "offset"), p = Tc(i, t + "offset-origin"), x = Sr(i, t + "width"), v = Sr(i, t + "height"), E = tm(i, t + "size"), y = Kr(
    i,
    t + "declutter-mode"
  ), T = new Yr({
    src: s,
    anchorOrigin: u,
    anchorXUnits: d,
    anchorYUnits: f,
    color: g,
    crossOrigin: m,
    offset: _,
    offsetOrigin: p,
    height: v,
    width: x,
    size: E,
    declutterMode: y
  });
  return function(S) {
    return a && T.setOpacity(a(S)), l && T.setDisplacement(l(S)), c && T.setRotation(c(S)), h && T.setRotateWithView(h(S)), o && T.setScale(o(S)), r && T.setAnchor(r(S)), T;
  };
}
function J_(i, e) {
  const t = "shape-", n = t + "points", s = t + "radius", r = ca(i[n], n), o = ca(i[s], s), a = Cs(i, t, e), l = Ts(i, t, e), c = Zr(i, t + "scale", e), h = Tr(
    i,
    t + "displacement",
    e
  ), u = nt(
    i,
    t + "rotation",
    e
  ), d = Ei(
    i,
    t + "rotate-with-view",
    e
  ), f = Sr(i, t + "radius2"), g = Sr(i, t + "angle"), m = Kr(
    i,
    t + "declutter-mode"
  ), _ = new jr({
    points: r,
    radius: o,
    radius2: f,
    angle: g,
    declutterMode: m
  });
  return function(p) {
    return a && _.setFill(a(p)), l && _.setStroke(l(p)), h && _.setDisplacement(h(p)), u && _.setRotation(u(p)), d && _.setRotateWithView(d(p)), c && _.setScale(c(p)), _;
  };
}
function Q_(i, e) {
  const t = "circle-", n = Cs(i, t, e), s = Ts(i, t, e), r = nt(i, t + "radius", e), o = Zr(i, t + "scale", e), a = Tr(
    i,
    t + "displacement",
    e
  ), l = nt(
    i,
    t + "rotation",
    e
  ), c = Ei(
    i,
    t + "rotate-with-view",
    e
  ), h = Kr(
    i,
    t + "declutter-mode"
  ), u = new Tn({
    radius: 5,
    // this is arbitrary, but required - the evaluated radius is used below
    declutterMode: h
  });
  return function(d) {
    return r && u.setRadius(r(d)), n && u.setFill(n(d)), s && u.setStroke(s(d)), a && u.setDisplacement(a(d)), l && u.setRotation(l(d)), c && u.setRotateWithView(c(d)), o && u.setScale(o(d)), u;
  };
}
function nt(i, e, t) {
  if (!(e in i))
    return;
  const n = an(i[e], B, t);
  return function(s) {
    return ca(n(s), e);
  };
}
function Ht(i, e, t) {
  if (!(e in i))
    return null;
  const n = an(i[e], Re, t);
  return function(s) {
    return au(n(s), e);
  };
}
function em(i, e, t) {
  const n = Ht(
    i,
    e + "pattern-src",
    t
  ), s = Cc(
    i,
    e + "pattern-offset",
    t
  ), r = Cc(
    i,
    e + "pattern-size",
    t
  ), o = qa(
    i,
    e + "color",
    t
  );
  return function(a) {
    return {
      src: n(a),
      offset: s && s(a),
      size: r && r(a),
      color: o && o(a)
    };
  };
}
function Ei(i, e, t) {
  if (!(e in i))
    return null;
  const n = an(i[e], Se, t);
  return function(s) {
    const r = n(s);
    if (typeof r != "boolean")
      throw new Error(`Expected a boolean for ${e}`);
    return r;
  };
}
function qa(i, e, t) {
  if (!(e in i))
    return null;
  const n = an(i[e], ue, t);
  return function(s) {
    return lu(n(s), e);
  };
}
function ou(i, e, t) {
  if (!(e in i))
    return null;
  const n = an(i[e], ot, t);
  return function(s) {
    return ks(n(s), e);
  };
}
function Tr(i, e, t) {
  if (!(e in i))
    return null;
  const n = an(i[e], ot, t);
  return function(s) {
    const r = ks(n(s), e);
    if (r.length !== 2)
      throw new Error(`Expected two numbers for ${e}`);
    return r;
  };
}
function Cc(i, e, t) {
  if (!(e in i))
    return null;
  const n = an(i[e], ot, t);
  return function(s) {
    return cu(n(s), e);
  };
}
function Zr(i, e, t) {
  if (!(e in i))
    return null;
  const n = an(
    i[e],
    ot | B,
    t
  );
  return function(s) {
    return rm(n(s), e);
  };
}
function Sr(i, e) {
  const t = i[e];
  if (t !== void 0) {
    if (typeof t != "number")
      throw new Error(`Expected a number for ${e}`);
    return t;
  }
}
function tm(i, e) {
  const t = i[e];
  if (t !== void 0) {
    if (typeof t == "number")
      return qe(t);
    if (!Array.isArray(t))
      throw new Error(`Expected a number or size array for ${e}`);
    if (t.length !== 2 || typeof t[0] != "number" || typeof t[1] != "number")
      throw new Error(`Expected a number or size array for ${e}`);
    return t;
  }
}
function nm(i, e) {
  const t = i[e];
  if (t !== void 0) {
    if (typeof t != "string")
      throw new Error(`Expected a string for ${e}`);
    return t;
  }
}
function Tc(i, e) {
  const t = i[e];
  if (t !== void 0) {
    if (t !== "bottom-left" && t !== "bottom-right" && t !== "top-left" && t !== "top-right")
      throw new Error(
        `Expected bottom-left, bottom-right, top-left, or top-right for ${e}`
      );
    return t;
  }
}
function Sc(i, e) {
  const t = i[e];
  if (t !== void 0) {
    if (t !== "pixels" && t !== "fraction")
      throw new Error(`Expected pixels or fraction for ${e}`);
    return t;
  }
}
function im(i, e) {
  const t = i[e];
  if (t !== void 0)
    return ks(t, e);
}
function Kr(i, e) {
  const t = i[e];
  if (t !== void 0) {
    if (typeof t != "string")
      throw new Error(`Expected a string for ${e}`);
    if (t !== "declutter" && t !== "obstacle" && t !== "none")
      throw new Error(`Expected declutter, obstacle, or none for ${e}`);
    return t;
  }
}
function sm(i, e) {
  const t = i[e];
  if (t !== void 0)
    return lu(t, e);
}
function ks(i, e) {
  if (!Array.isArray(i))
    throw new Error(`Expected an array for ${e}`);
  const t = i.length;
  for (let n = 0; n < t; ++n)
    if (typeof i[n] != "number")
      throw new Error(`Expected an array of numbers for ${e}`);
  return i;
}
function au(i, e) {
  if (typeof i != "string")
    throw new Error(`Expected a string for ${e}`);
  return i;
}
function ca(i, e) {
  if (typeof i != "number")
    throw new Error(`Expected a number for ${e}`);
  return i;
}
function lu(i, e) {
  if (typeof i == "string")
    return i;
  const t = ks(i, e), n = t.length;
  if (n < 3 || n > 4)
    throw new Error(`Expected a color with 3 or 4 values for ${e}`);
  return t;
}
function cu(i, e) {
  const t = ks(i, e);
  if (t.length !== 2)
    throw new Error(`Expected an array of two numbers for ${e}`);
  return t;
}
function rm(i, e) {
  return typeof i == "number" ? i : cu(i, e);
}
const Ct = {
  CENTER: "center",
  RESOLUTION: "resolution",
  ROTATION: "rotation"
};
function Rc(i, e, t) {
  return (
    /**
     * @param {import("./coordinate.js").Coordinate|undefined} center Center.
     * @param {number|undefined} resolution Resolution.
     * @param {import("./size.js").Size} size Viewport size; unused if `onlyCenter` was specified.
     * @param {boolean} [isMoving] True if an interaction or animation is in progress.
     * @param {Array<number>} [centerShift] Shift between map center and viewport center.
     * @return {import("./coordinate.js").Coordinate|undefined} Center.
     */
    (function(n, s, r, o, a) {
      if (!n)
        return;
      if (!s && !e)
        return n;
      const l = e ? 0 : r[0] * s, c = e ? 0 : r[1] * s, h = a ? a[0] : 0, u = a ? a[1] : 0;
      let d = i[0] + l / 2 + h, f = i[2] - l / 2 + h, g = i[1] + c / 2 + u, m = i[3] - c / 2 + u;
      d > f && (d = (f + d) / 2, f = d), g > m && (g = (m + g) / 2, m = g);
      let _ = de(n[0], d, f), p = de(n[1], g, m);
      if (o && t && s) {
        const x = 30 * s;
        _ += -x * Math.log(1 + Math.max(0, d - n[0]) / x) + x * Math.log(1 + Math.max(0, n[0] - f) / x), p += -x * Math.log(1 + Math.max(0, g - n[1]) / x) + x * Math.log(1 + Math.max(0, n[1] - m) / x);
      }
      return [_, p];
    })
  );
}
function om(i) {
  return i;
}
function hu(i) {
  return Math.pow(i, 3);
}
function pt(i) {
  return 1 - hu(1 - i);
}
function am(i) {
  return 3 * i * i - 2 * i * i * i;
}
function lm(i) {
  return i;
}
function Ja(i, e, t, n) {
  const s = ae(e) / t[0], r = He(e) / t[1];
  return n ? Math.min(i, Math.max(s, r)) : Math.min(i, Math.min(s, r));
}
function Qa(i, e, t) {
  let n = Math.min(i, e);
  const s = 50;
  return n *= Math.log(1 + s * Math.max(0, i / e - 1)) / s + 1, t && (n = Math.max(n, t), n /= Math.log(1 + s * Math.max(0, t / i - 1)) / s + 1), de(n, t / 2, e * 2);
}
function cm(i, e, t, n) {
  return e = e !== void 0 ? e : !0, /**
   * @param {number|undefined} resolution Resolution.
   * @param {number} direction Direction.
   * @param {import("./size.js").Size} size Viewport size.
   * @param {boolean} [isMoving] True if an interaction or animation is in progress.
   * @return {number|undefined} Resolution.
   */
  (function(s, r, o, a) {
    if (s !== void 0) {
      const l = i[0], c = i[i.length - 1], h = t ? Ja(
        l,
        t,
        o,
        n
      ) : l;
      if (a)
        return e ? Qa(
          s,
          h,
          c
        ) : de(s, c, h);
      const u = Math.min(h, s), d = Math.floor(ba(i, u, r));
      return i[d] > h && d < i.length - 1 ? i[d + 1] : i[d];
    }
  });
}
function hm(i, e, t, n, s, r) {
  return n = n !== void 0 ? n : !0, t = t !== void 0 ? t : 0, /**
   * @param {number|undefined} resolution Resolution.
   * @param {number} direction Direction.
   * @param {import("./size.js").Size} size Viewport size.
   * @param {boolean} [isMoving] True if an interaction or animation is in progress.
   * @return {number|undefined} Resolution.
   */
  (function(o, a, l, c) {
    if (o !== void 0) {
      const h = s ? Ja(
        e,
        s,
        l,
        r
      ) : e;
      if (c)
        return n ? Qa(
          o,
          h,
          t
        ) : de(o, t, h);
      const u = 1e-9, d = Math.ceil(
        Math.log(e / h) / Math.log(i) - u
      ), f = -a * (0.5 - u) + 0.5, g = Math.min(h, o), m = Math.floor(
        Math.log(e / g) / Math.log(i) + f
      ), _ = Math.max(d, m), p = e / Math.pow(i, _);
      return de(p, t, h);
    }
  });
}
function wc(i, e, t, n, s) {
  return t = t !== void 0 ? t : !0, /**
   * @param {number|undefined} resolution Resolution.
   * @param {number} direction Direction.
   * @param {import("./size.js").Size} size Viewport size.
   * @param {boolean} [isMoving] True if an interaction or animation is in progress.
   * @return {number|undefined} Resolution.
   */
  (function(r, o, a, l) {
    if (r !== void 0) {
      const c = n ? Ja(
        i,
        n,
        a,
        s
      ) : i;
      return !t || !l ? de(r, e, c) : Qa(
        r,
        c,
        e
      );
    }
  });
}
function el(i) {
  if (i !== void 0)
    return 0;
}
function Pc(i) {
  if (i !== void 0)
    return i;
}
function um(i) {
  const e = 2 * Math.PI / i;
  return (
    /**
     * @param {number|undefined} rotation Rotation.
     * @param {boolean} [isMoving] True if an interaction or animation is in progress.
     * @return {number|undefined} Rotation.
     */
    (function(t, n) {
      if (n)
        return t;
      if (t !== void 0)
        return t = Math.floor(t / e + 0.5) * e, t;
    })
  );
}
function dm(i) {
  const e = En(5);
  return (
    /**
     * @param {number|undefined} rotation Rotation.
     * @param {boolean} [isMoving] True if an interaction or animation is in progress.
     * @return {number|undefined} Rotation.
     */
    (function(t, n) {
      return n || t === void 0 ? t : Math.abs(t) <= e ? 0 : t;
    })
  );
}
const fm = 42, tl = 256, So = 0;
class Nt extends Wt {
  /**
   * @param {ViewOptions} [options] View options.
   */
  constructor(e) {
    super(), this.on, this.once, this.un, e = Object.assign({}, e), this.hints_ = [0, 0], this.animations_ = [], this.updateAnimationKey_, this.projection_ = Ia(e.projection, "EPSG:3857"), this.viewportSize_ = [100, 100], this.targetCenter_ = null, this.targetResolution_, this.targetRotation_, this.nextCenter_ = null, this.nextResolution_, this.nextRotation_, this.cancelAnchor_ = void 0, e.projection && xh(), e.center && (e.center = ge(e.center, this.projection_)), e.extent && (e.extent = en(e.extent, this.projection_)), this.applyOptions_(e);
  }
  /**
   * Set up the view with the given options.
   * @param {ViewOptions} options View options.
   */
  applyOptions_(e) {
    const t = Object.assign({}, e);
    for (const a in Ct)
      delete t[a];
    this.setProperties(t, !0);
    const n = _m(e);
    this.maxResolution_ = n.maxResolution, this.minResolution_ = n.minResolution, this.zoomFactor_ = n.zoomFactor, this.resolutions_ = e.resolutions, this.padding_ = e.padding, this.minZoom_ = n.minZoom;
    const s = gm(e), r = n.constraint, o = mm(e);
    this.constraints_ = {
      center: s,
      resolution: r,
      rotation: o
    }, this.setRotation(e.rotation !== void 0 ? e.rotation : 0), this.setCenterInternal(
      e.center !== void 0 ? e.center : null
    ), e.resolution !== void 0 ? this.setResolution(e.resolution) : e.zoom !== void 0 && this.setZoom(e.zoom);
  }
  /**
   * Padding (in css pixels).
   * If the map viewport is partially covered with other content (overlays) along
   * its edges, this setting allows to shift the center of the viewport away from that
   * content. The order of the values in the array is top, right, bottom, left.
   * The default is no padding, which is equivalent to `[0, 0, 0, 0]`.
   * @type {Array<number>|undefined}
   * @api
   */
  get padding() {
    return this.padding_;
  }
  set padding(e) {
    let t = this.padding_;
    this.padding_ = e;
    const n = this.getCenterInternal();
    if (n) {
      const s = e || [0, 0, 0, 0];
      t = t || [0, 0, 0, 0];
      const r = this.getResolution(), o = r / 2 * (s[3] - t[3] + t[1] - s[1]), a = r / 2 * (s[0] - t[0] + t[2] - s[2]);
      this.setCenterInternal([n[0] + o, n[1] - a]);
    }
  }
  /**
   * Get an updated version of the view options used to construct the view.  The
   * current resolution (or zoom), center, and rotation are applied to any stored
   * options.  The provided options can be used to apply new min/max zoom or
   * resolution limits.
   * @param {ViewOptions} newOptions New options to be applied.
   * @return {ViewOptions} New options updated with the current view state.
   */
  getUpdatedOptions_(e) {
    const t = this.getProperties();
    return t.resolution !== void 0 ? t.resolution = this.getResolution() : t.zoom = this.getZoom(), t.center = this.getCenterInternal(), t.rotation = this.getRotation(), Object.assign({}, t, e);
  }
  /**
   * Animate the view.  The view's center, zoom (or resolution), and rotation
   * can be animated for smooth transitions between view states.  For example,
   * to animate the view to a new zoom level:
   *
   *     view.animate({zoom: view.getZoom() + 1});
   *
   * By default, the animation lasts one second and uses in-and-out easing.  You
   * can customize this behavior by including `duration` (in milliseconds) and
   * `easing` options (see {@link module:ol/easing}).
   *
   * To chain together multiple animations, call the method with multiple
   * animation objects.  For example, to first zoom and then pan:
   *
   *     view.animate({zoom: 10}, {center: [0, 0]});
   *
   * If you provide a function as the last argument to the animate method, it
   * will get called at the end of an animation series.  The callback will be
   * called with `true` if the animation series completed on its own or `false`
   * if it was cancelled.
   *
   * Animations are cancelled by user interactions (e.g. dragging the map) or by
   * calling `view.setCenter()`, `view.setResolution()`, or `view.setRotation()`
   * (or another method that calls one of these).
   *
   * @param {...(AnimationOptions|function(boolean): void)} var_args Animation
   *     options.  Multiple animations can be run in series by passing multiple
   *     options objects.  To run multiple animations in parallel, call the method
   *     multiple times.  An optional callback can be provided as a final
   *     argument.  The callback will be called with a boolean indicating whether
   *     the animation completed without being cancelled.
   * @api
   */
  animate(e) {
    this.isDef() && !this.getAnimating() && this.resolveConstraints(0);
    const t = new Array(arguments.length);
    for (let n = 0; n < t.length; ++n) {
      let s = arguments[n];
      s.center && (s = Object.assign({}, s), s.center = ge(
        s.center,
        this.getProjection()
      )), s.anchor && (s = Object.assign({}, s), s.anchor = ge(
        s.anchor,
        this.getProjection()
      )), t[n] = s;
    }
    this.animateInternal.apply(this, t);
  }
  /**
   * @param {...(AnimationOptions|function(boolean): void)} var_args Animation options.
   */
  animateInternal(e) {
    let t = arguments.length, n;
    t > 1 && typeof arguments[t - 1] == "function" && (n = arguments[t - 1], --t);
    let s = 0;
    for (; s < t && !this.isDef(); ++s) {
      const h = arguments[s];
      h.center && this.setCenterInternal(h.center), h.zoom !== void 0 ? this.setZoom(h.zoom) : h.resolution && this.setResolution(h.resolution), h.rotation !== void 0 && this.setRotation(h.rotation);
    }
    if (s === t) {
      n && tr(n, !0);
      return;
    }
    let r = Date.now(), o = this.targetCenter_.slice(), a = this.targetResolution_, l = this.targetRotation_;
    const c = [];
    for (; s < t; ++s) {
      const h = (
        /** @type {AnimationOptions} */
        arguments[s]
      ), u = {
        start: r,
        complete: !1,
        anchor: h.anchor,
        duration: h.duration !== void 0 ? h.duration : 1e3,
        easing: h.easing || am,
        callback: n
      };
      if (h.center && (u.sourceCenter = o, u.targetCenter = h.center.slice(), o = u.targetCenter), h.zoom !== void 0 ? (u.sourceResolution = a, u.targetResolution = this.getResolutionForZoom(h.zoom), a = u.targetResolution) : h.resolution && (u.sourceResolution = a, u.targetResolution = h.resolution, a = u.targetResolution), h.rotation !== void 0) {
        u.sourceRotation = l;
        const d = kn(h.rotation - l + Math.PI, 2 * Math.PI) - Math.PI;
        u.targetRotation = l + d, l = u.targetRotation;
      }
      pm(u) ? u.complete = !0 : r += u.duration, c.push(u);
    }
    this.animations_.push(c), this.setHint(De.ANIMATING, 1), this.updateAnimations_();
  }
  /**
   * Determine if the view is being animated.
   * @return {boolean} The view is being animated.
   * @api
   */
  getAnimating() {
    return this.hints_[De.ANIMATING] > 0;
  }
  /**
   * Determine if the user is interacting with the view, such as panning or zooming.
   * @return {boolean} The view is being interacted with.
   * @api
   */
  getInteracting() {
    return this.hints_[De.INTERACTING] > 0;
  }
  /**
   * Cancel any ongoing animations.
   * @api
   */
  cancelAnimations() {
    this.setHint(De.ANIMATING, -this.hints_[De.ANIMATING]);
    let e;
    for (let t = 0, n = this.animations_.length; t < n; ++t) {
      const s = this.animations_[t];
      if (s[0].callback && tr(s[0].callback, !1), !e)
        for (let r = 0, o = s.length; r < o; ++r) {
          const a = s[r];
          if (!a.complete) {
            e = a.anchor;
            break;
          }
        }
    }
    this.animations_.length = 0, this.cancelAnchor_ = e, this.nextCenter_ = null, this.nextResolution_ = NaN, this.nextRotation_ = NaN;
  }
  /**
   * Update all animations.
   */
  updateAnimations_() {
    if (this.updateAnimationKey_ !== void 0 && (cancelAnimationFrame(this.updateAnimationKey_), this.updateAnimationKey_ = void 0), !this.getAnimating())
      return;
    const e = Date.now();
    let t = !1;
    for (let n = this.animations_.length - 1; n >= 0; --n) {
      const s = this.animations_[n];
      let r = !0;
      for (let o = 0, a = s.length; o < a; ++o) {
        const l = s[o];
        if (l.complete)
          continue;
        const c = e - l.start;
        let h = l.duration > 0 ? c / l.duration : 1;
        h >= 1 ? (l.complete = !0, h = 1) : r = !1;
        const u = l.easing(h);
        if (l.sourceCenter) {
          const d = l.sourceCenter[0], f = l.sourceCenter[1], g = l.targetCenter[0], m = l.targetCenter[1];
          this.nextCenter_ = l.targetCenter;
          const _ = d + u * (g - d), p = f + u * (m - f);
          this.targetCenter_ = [_, p];
        }
        if (l.sourceResolution && l.targetResolution) {
          const d = u === 1 ? l.targetResolution : l.sourceResolution + u * (l.targetResolution - l.sourceResolution);
          if (l.anchor) {
            const f = this.getViewportSize_(this.getRotation()), g = this.constraints_.resolution(
              d,
              0,
              f,
              !0
            );
            this.targetCenter_ = this.calculateCenterZoom(
              g,
              l.anchor
            );
          }
          this.nextResolution_ = l.targetResolution, this.targetResolution_ = d, this.applyTargetState_(!0);
        }
        if (l.sourceRotation !== void 0 && l.targetRotation !== void 0) {
          const d = u === 1 ? kn(l.targetRotation + Math.PI, 2 * Math.PI) - Math.PI : l.sourceRotation + u * (l.targetRotation - l.sourceRotation);
          if (l.anchor) {
            const f = this.constraints_.rotation(
              d,
              !0
            );
            this.targetCenter_ = this.calculateCenterRotate(
              f,
              l.anchor
            );
          }
          this.nextRotation_ = l.targetRotation, this.targetRotation_ = d;
        }
        if (this.applyTargetState_(!0), t = !0, !l.complete)
          break;
      }
      if (r) {
        this.animations_[n] = null, this.setHint(De.ANIMATING, -1), this.nextCenter_ = null, this.nextResolution_ = NaN, this.nextRotation_ = NaN;
        const o = s[0].callback;
        o && tr(o, !0);
      }
    }
    this.animations_ = this.animations_.filter(Boolean), t && this.updateAnimationKey_ === void 0 && (this.updateAnimationKey_ = requestAnimationFrame(
      this.updateAnimations_.bind(this)
    ));
  }
  /**
   * @param {number} rotation Target rotation.
   * @param {import("./coordinate.js").Coordinate} anchor Rotation anchor.
   * @return {import("./coordinate.js").Coordinate|undefined} Center for rotation and anchor.
   */
  calculateCenterRotate(e, t) {
    let n;
    const s = this.getCenterInternal();
    return s !== void 0 && (n = [s[0] - t[0], s[1] - t[1]], Ta(n, e - this.getRotation()), vd(n, t)), n;
  }
  /**
   * @param {number} resolution Target resolution.
   * @param {import("./coordinate.js").Coordinate} anchor Zoom anchor.
   * @return {import("./coordinate.js").Coordinate|undefined} Center for resolution and anchor.
   */
  calculateCenterZoom(e, t) {
    let n;
    const s = this.getCenterInternal(), r = this.getResolution();
    if (s !== void 0 && r !== void 0) {
      const o = t[0] - e * (t[0] - s[0]) / r, a = t[1] - e * (t[1] - s[1]) / r;
      n = [o, a];
    }
    return n;
  }
  /**
   * Returns the current viewport size.
   * @private
   * @param {number} [rotation] Take into account the rotation of the viewport when giving the size
   * @return {import("./size.js").Size} Viewport size or `[100, 100]` when no viewport is found.
   */
  getViewportSize_(e) {
    const t = this.viewportSize_;
    if (e) {
      const n = t[0], s = t[1];
      return [
        Math.abs(n * Math.cos(e)) + Math.abs(s * Math.sin(e)),
        Math.abs(n * Math.sin(e)) + Math.abs(s * Math.cos(e))
      ];
    }
    return t;
  }
  /**
   * Stores the viewport size on the view. The viewport size is not read every time from the DOM
   * to avoid performance hit and layout reflow.
   * This should be done on map size change.
   * Note: the constraints are not resolved during an animation to avoid stopping it
   * @param {import("./size.js").Size} [size] Viewport size; if undefined, [100, 100] is assumed
   */
  setViewportSize(e) {
    this.viewportSize_ = Array.isArray(e) ? e.slice() : [100, 100], this.getAnimating() || this.resolveConstraints(0);
  }
  /**
   * Get the view center.
   * @return {import("./coordinate.js").Coordinate|undefined} The center of the view.
   * @observable
   * @api
   */
  getCenter() {
    const e = this.getCenterInternal();
    return e && Un(e, this.getProjection());
  }
  /**
   * Get the view center without transforming to user projection.
   * @return {import("./coordinate.js").Coordinate|undefined} The center of the view.
   */
  getCenterInternal() {
    return (
      /** @type {import("./coordinate.js").Coordinate|undefined} */
      this.get(Ct.CENTER)
    );
  }
  /**
   * @return {Constraints} Constraints.
   */
  getConstraints() {
    return this.constraints_;
  }
  /**
   * @return {boolean} Resolution constraint is set
   */
  getConstrainResolution() {
    return this.get("constrainResolution");
  }
  /**
   * @param {Array<number>} [hints] Destination array.
   * @return {Array<number>} Hint.
   */
  getHints(e) {
    return e !== void 0 ? (e[0] = this.hints_[0], e[1] = this.hints_[1], e) : this.hints_.slice();
  }
  /**
   * Calculate the extent for the current view state and the passed box size.
   * @param {import("./size.js").Size} [size] The pixel dimensions of the box
   * into which the calculated extent should fit. Defaults to the size of the
   * map the view is associated with.
   * If no map or multiple maps are connected to the view, provide the desired
   * box size (e.g. `map.getSize()`).
   * @return {import("./extent.js").Extent} Extent.
   * @api
   */
  calculateExtent(e) {
    const t = this.calculateExtentInternal(e);
    return Fa(t, this.getProjection());
  }
  /**
   * @param {import("./size.js").Size} [size] Box pixel size. If not provided,
   * the map's last known viewport size will be used.
   * @return {import("./extent.js").Extent} Extent.
   */
  calculateExtentInternal(e) {
    e = e || this.getViewportSizeMinusPadding_();
    const t = (
      /** @type {!import("./coordinate.js").Coordinate} */
      this.getCenterInternal()
    );
    ie(t, "The view center is not defined");
    const n = (
      /** @type {!number} */
      this.getResolution()
    );
    ie(n !== void 0, "The view resolution is not defined");
    const s = (
      /** @type {!number} */
      this.getRotation()
    );
    return ie(s !== void 0, "The view rotation is not defined"), Yo(t, n, s, e);
  }
  /**
   * Get the maximum resolution of the view.
   * @return {number} The maximum resolution of the view.
   * @api
   */
  getMaxResolution() {
    return this.maxResolution_;
  }
  /**
   * Get the minimum resolution of the view.
   * @return {number} The minimum resolution of the view.
   * @api
   */
  getMinResolution() {
    return this.minResolution_;
  }
  /**
   * Get the maximum zoom level for the view.
   * @return {number} The maximum zoom level.
   * @api
   */
  getMaxZoom() {
    return (
      /** @type {number} */
      this.getZoomForResolution(this.minResolution_)
    );
  }
  /**
   * Set a new maximum zoom level for the view.
   * @param {number} zoom The maximum zoom level.
   * @api
   */
  setMaxZoom(e) {
    this.applyOptions_(this.getUpdatedOptions_({ maxZoom: e }));
  }
  /**
   * Get the minimum zoom level for the view.
   * @return {number} The minimum zoom level.
   * @api
   */
  getMinZoom() {
    return (
      /** @type {number} */
      this.getZoomForResolution(this.maxResolution_)
    );
  }
  /**
   * Set a new minimum zoom level for the view.
   * @param {number} zoom The minimum zoom level.
   * @api
   */
  setMinZoom(e) {
    this.applyOptions_(this.getUpdatedOptions_({ minZoom: e }));
  }
  /**
   * Set whether the view should allow intermediary zoom levels.
   * @param {boolean} enabled Whether the resolution is constrained.
   * @api
   */
  setConstrainResolution(e) {
    this.applyOptions_(this.getUpdatedOptions_({ constrainResolution: e }));
  }
  /**
   * Get the view projection.
   * @return {import("./proj/Projection.js").default} The projection of the view.
   * @api
   */
  getProjection() {
    return this.projection_;
  }
  /**
   * Get the view resolution.
   * @return {number|undefined} The resolution of the view.
   * @observable
   * @api
   */
  getResolution() {
    return (
      /** @type {number|undefined} */
      this.get(Ct.RESOLUTION)
    );
  }
  /**
   * Get the resolutions for the view. This returns the array of resolutions
   * passed to the constructor of the View, or undefined if none were given.
   * @return {Array<number>|undefined} The resolutions of the view.
   * @api
   */
  getResolutions() {
    return this.resolutions_;
  }
  /**
   * Get the resolution for a provided extent (in map units) and size (in pixels).
   * @param {import("./extent.js").Extent} extent Extent.
   * @param {import("./size.js").Size} [size] Box pixel size.
   * @return {number} The resolution at which the provided extent will render at
   *     the given size.
   * @api
   */
  getResolutionForExtent(e, t) {
    return this.getResolutionForExtentInternal(
      en(e, this.getProjection()),
      t
    );
  }
  /**
   * Get the resolution for a provided extent (in map units) and size (in pixels).
   * @param {import("./extent.js").Extent} extent Extent.
   * @param {import("./size.js").Size} [size] Box pixel size.
   * @return {number} The resolution at which the provided extent will render at
   *     the given size.
   */
  getResolutionForExtentInternal(e, t) {
    t = t || this.getViewportSizeMinusPadding_();
    const n = ae(e) / t[0], s = He(e) / t[1];
    return Math.max(n, s);
  }
  /**
   * Return a function that returns a value between 0 and 1 for a
   * resolution. Exponential scaling is assumed.
   * @param {number} [power] Power.
   * @return {function(number): number} Resolution for value function.
   */
  getResolutionForValueFunction(e) {
    e = e || 2;
    const t = this.getConstrainedResolution(this.maxResolution_), n = this.minResolution_, s = Math.log(t / n) / Math.log(e);
    return (
      /**
       * @param {number} value Value.
       * @return {number} Resolution.
       */
      (function(r) {
        return t / Math.pow(e, r * s);
      })
    );
  }
  /**
   * Get the view rotation.
   * @return {number} The rotation of the view in radians.
   * @observable
   * @api
   */
  getRotation() {
    return (
      /** @type {number} */
      this.get(Ct.ROTATION)
    );
  }
  /**
   * Return a function that returns a resolution for a value between
   * 0 and 1. Exponential scaling is assumed.
   * @param {number} [power] Power.
   * @return {function(number): number} Value for resolution function.
   */
  getValueForResolutionFunction(e) {
    const t = Math.log(e || 2), n = this.getConstrainedResolution(this.maxResolution_), s = this.minResolution_, r = Math.log(n / s) / t;
    return (
      /**
       * @param {number} resolution Resolution.
       * @return {number} Value.
       */
      (function(o) {
        return Math.log(n / o) / t / r;
      })
    );
  }
  /**
   * Returns the size of the viewport minus padding.
   * @private
   * @param {number} [rotation] Take into account the rotation of the viewport when giving the size
   * @return {import("./size.js").Size} Viewport size reduced by the padding.
   */
  getViewportSizeMinusPadding_(e) {
    let t = this.getViewportSize_(e);
    const n = this.padding_;
    return n && (t = [
      t[0] - n[1] - n[3],
      t[1] - n[0] - n[2]
    ]), t;
  }
  /**
   * @return {State} View state.
   */
  getState() {
    const e = this.getProjection(), t = this.getResolution(), n = this.getRotation();
    let s = (
      /** @type {import("./coordinate.js").Coordinate} */
      this.getCenterInternal()
    );
    const r = this.padding_;
    if (r) {
      const o = this.getViewportSizeMinusPadding_();
      s = Ro(
        s,
        this.getViewportSize_(),
        [o[0] / 2 + r[3], o[1] / 2 + r[0]],
        t,
        n
      );
    }
    return {
      center: s.slice(0),
      projection: e !== void 0 ? e : null,
      resolution: t,
      nextCenter: this.nextCenter_,
      nextResolution: this.nextResolution_,
      nextRotation: this.nextRotation_,
      rotation: n,
      zoom: this.getZoom()
    };
  }
  /**
   * @return {ViewStateLayerStateExtent} Like `FrameState`, but just `viewState` and `extent`.
   */
  getViewStateAndExtent() {
    return {
      viewState: this.getState(),
      extent: this.calculateExtent()
    };
  }
  /**
   * Get the current zoom level. This method may return non-integer zoom levels
   * if the view does not constrain the resolution, or if an interaction or
   * animation is underway.
   * @return {number|undefined} Zoom.
   * @api
   */
  getZoom() {
    let e;
    const t = this.getResolution();
    return t !== void 0 && (e = this.getZoomForResolution(t)), e;
  }
  /**
   * Get the zoom level for a resolution.
   * @param {number} resolution The resolution.
   * @return {number|undefined} The zoom level for the provided resolution.
   * @api
   */
  getZoomForResolution(e) {
    let t = this.minZoom_ || 0, n, s;
    if (this.resolutions_) {
      const r = ba(this.resolutions_, e, 1);
      t = r, n = this.resolutions_[r], r == this.resolutions_.length - 1 ? s = 2 : s = n / this.resolutions_[r + 1];
    } else
      n = this.maxResolution_, s = this.zoomFactor_;
    return t + Math.log(n / e) / Math.log(s);
  }
  /**
   * Get the resolution for a zoom level.
   * @param {number} zoom Zoom level.
   * @return {number} The view resolution for the provided zoom level.
   * @api
   */
  getResolutionForZoom(e) {
    if (this.resolutions_?.length) {
      if (this.resolutions_.length === 1)
        return this.resolutions_[0];
      const t = de(
        Math.floor(e),
        0,
        this.resolutions_.length - 2
      ), n = this.resolutions_[t] / this.resolutions_[t + 1];
      return this.resolutions_[t] / Math.pow(n, de(e - t, 0, 1));
    }
    return this.maxResolution_ / Math.pow(this.zoomFactor_, e - this.minZoom_);
  }
  /**
   * Fit the given geometry or extent based on the given map size and border.
   * The size is pixel dimensions of the box to fit the extent into.
   * In most cases you will want to use the map size, that is `map.getSize()`.
   * Takes care of the map angle.
   * @param {import("./geom/SimpleGeometry.js").default|import("./extent.js").Extent} geometryOrExtent The geometry or
   *     extent to fit the view to.
   * @param {FitOptions} [options] Options.
   * @api
   */
  fit(e, t) {
    let n;
    if (ie(
      Array.isArray(e) || typeof /** @type {?} */
      e.getSimplifiedGeometry == "function",
      "Invalid extent or geometry provided as `geometry`"
    ), Array.isArray(e)) {
      ie(
        !wi(e),
        "Cannot fit empty extent provided as `geometry`"
      );
      const s = en(e, this.getProjection());
      n = Hl(s);
    } else if (e.getType() === "Circle") {
      const s = en(
        e.getExtent(),
        this.getProjection()
      );
      n = Hl(s), n.rotate(this.getRotation(), zt(s));
    } else
      n = e;
    this.fitInternal(n, t);
  }
  /**
   * Calculate rotated extent
   * @param {import("./geom/SimpleGeometry.js").default} geometry The geometry.
   * @return {import("./extent").Extent} The rotated extent for the geometry.
   */
  rotatedExtentForGeometry(e) {
    const t = this.getRotation(), n = Math.cos(t), s = Math.sin(-t), r = e.getFlatCoordinates(), o = e.getStride();
    let a = 1 / 0, l = 1 / 0, c = -1 / 0, h = -1 / 0;
    for (let u = 0, d = r.length; u < d; u += o) {
      const f = r[u] * n - r[u + 1] * s, g = r[u] * s + r[u + 1] * n;
      a = Math.min(a, f), l = Math.min(l, g), c = Math.max(c, f), h = Math.max(h, g);
    }
    return [a, l, c, h];
  }
  /**
   * @param {import("./geom/SimpleGeometry.js").default} geometry The geometry.
   * @param {FitOptions} [options] Options.
   */
  fitInternal(e, t) {
    t = t || {};
    let n = t.size;
    n || (n = this.getViewportSizeMinusPadding_());
    const s = t.padding !== void 0 ? t.padding : [0, 0, 0, 0], r = t.nearest !== void 0 ? t.nearest : !1;
    let o;
    t.minResolution !== void 0 ? o = t.minResolution : t.maxZoom !== void 0 ? o = this.getResolutionForZoom(t.maxZoom) : o = 0;
    const a = this.rotatedExtentForGeometry(e);
    let l = this.getResolutionForExtentInternal(a, [
      n[0] - s[1] - s[3],
      n[1] - s[0] - s[2]
    ]);
    l = isNaN(l) ? o : Math.max(l, o), l = this.getConstrainedResolution(l, r ? 0 : 1);
    const c = this.getRotation(), h = Math.sin(c), u = Math.cos(c), d = zt(a);
    d[0] += (s[1] - s[3]) / 2 * l, d[1] += (s[0] - s[2]) / 2 * l;
    const f = d[0] * u - d[1] * h, g = d[1] * u + d[0] * h, m = this.getConstrainedCenter([f, g], l), _ = t.callback ? t.callback : us;
    t.duration !== void 0 ? this.animateInternal(
      {
        resolution: l,
        center: m,
        duration: t.duration,
        easing: t.easing
      },
      _
    ) : (this.targetResolution_ = l, this.targetCenter_ = m, this.applyTargetState_(!1, !0), tr(_, !0));
  }
  /**
   * Center on coordinate and view position.
   * @param {import("./coordinate.js").Coordinate} coordinate Coordinate.
   * @param {import("./size.js").Size} size Box pixel size.
   * @param {import("./pixel.js").Pixel} position Position on the view to center on.
   * @api
   */
  centerOn(e, t, n) {
    this.centerOnInternal(
      ge(e, this.getProjection()),
      t,
      n
    );
  }
  /**
   * @param {import("./coordinate.js").Coordinate} coordinate Coordinate.
   * @param {import("./size.js").Size} size Box pixel size.
   * @param {import("./pixel.js").Pixel} position Position on the view to center on.
   */
  centerOnInternal(e, t, n) {
    this.setCenterInternal(
      Ro(
        e,
        t,
        n,
        this.getResolution(),
        this.getRotation()
      )
    );
  }
  /**
   * Calculates the shift between map and viewport center.
   * @param {import("./coordinate.js").Coordinate} center Center.
   * @param {number} resolution Resolution.
   * @param {number} rotation Rotation.
   * @param {import("./size.js").Size} size Size.
   * @return {Array<number>|undefined} Center shift.
   */
  calculateCenterShift(e, t, n, s) {
    let r;
    const o = this.padding_;
    if (o && e) {
      const a = this.getViewportSizeMinusPadding_(-n), l = Ro(
        e,
        s,
        [a[0] / 2 + o[3], a[1] / 2 + o[0]],
        t,
        n
      );
      r = [
        e[0] - l[0],
        e[1] - l[1]
      ];
    }
    return r;
  }
  /**
   * @return {boolean} Is defined.
   */
  isDef() {
    return !!this.getCenterInternal() && this.getResolution() !== void 0;
  }
  /**
   * Adds relative coordinates to the center of the view. Any extent constraint will apply.
   * @param {import("./coordinate.js").Coordinate} deltaCoordinates Relative value to add.
   * @api
   */
  adjustCenter(e) {
    const t = Un(this.targetCenter_, this.getProjection());
    this.setCenter([
      t[0] + e[0],
      t[1] + e[1]
    ]);
  }
  /**
   * Adds relative coordinates to the center of the view. Any extent constraint will apply.
   * @param {import("./coordinate.js").Coordinate} deltaCoordinates Relative value to add.
   */
  adjustCenterInternal(e) {
    const t = this.targetCenter_;
    this.setCenterInternal([
      t[0] + e[0],
      t[1] + e[1]
    ]);
  }
  /**
   * Multiply the view resolution by a ratio, optionally using an anchor. Any resolution
   * constraint will apply.
   * @param {number} ratio The ratio to apply on the view resolution.
   * @param {import("./coordinate.js").Coordinate} [anchor] The origin of the transformation.
   * @api
   */
  adjustResolution(e, t) {
    t = t && ge(t, this.getProjection()), this.adjustResolutionInternal(e, t);
  }
  /**
   * Multiply the view resolution by a ratio, optionally using an anchor. Any resolution
   * constraint will apply.
   * @param {number} ratio The ratio to apply on the view resolution.
   * @param {import("./coordinate.js").Coordinate} [anchor] The origin of the transformation.
   */
  adjustResolutionInternal(e, t) {
    const n = this.getAnimating() || this.getInteracting(), s = this.getViewportSize_(this.getRotation()), r = this.constraints_.resolution(
      this.targetResolution_ * e,
      0,
      s,
      n
    );
    t && (this.targetCenter_ = this.calculateCenterZoom(r, t)), this.targetResolution_ *= e, this.applyTargetState_();
  }
  /**
   * Adds a value to the view zoom level, optionally using an anchor. Any resolution
   * constraint will apply.
   * @param {number} delta Relative value to add to the zoom level.
   * @param {import("./coordinate.js").Coordinate} [anchor] The origin of the transformation.
   * @api
   */
  adjustZoom(e, t) {
    this.adjustResolution(Math.pow(this.zoomFactor_, -e), t);
  }
  /**
   * Adds a value to the view rotation, optionally using an anchor. Any rotation
   * constraint will apply.
   * @param {number} delta Relative value to add to the zoom rotation, in radians.
   * @param {import("./coordinate.js").Coordinate} [anchor] The rotation center.
   * @api
   */
  adjustRotation(e, t) {
    t && (t = ge(t, this.getProjection())), this.adjustRotationInternal(e, t);
  }
  /**
   * @param {number} delta Relative value to add to the zoom rotation, in radians.
   * @param {import("./coordinate.js").Coordinate} [anchor] The rotation center.
   */
  adjustRotationInternal(e, t) {
    const n = this.getAnimating() || this.getInteracting(), s = this.constraints_.rotation(
      this.targetRotation_ + e,
      n
    );
    t && (this.targetCenter_ = this.calculateCenterRotate(s, t)), this.targetRotation_ += e, this.applyTargetState_();
  }
  /**
   * Set the center of the current view. Any extent constraint will apply.
   * @param {import("./coordinate.js").Coordinate|undefined} center The center of the view.
   * @observable
   * @api
   */
  setCenter(e) {
    this.setCenterInternal(
      e && ge(e, this.getProjection())
    );
  }
  /**
   * Set the center using the view projection (not the user projection).
   * @param {import("./coordinate.js").Coordinate|undefined} center The center of the view.
   */
  setCenterInternal(e) {
    this.targetCenter_ = e, this.applyTargetState_();
  }
  /**
   * @param {import("./ViewHint.js").default} hint Hint.
   * @param {number} delta Delta.
   * @return {number} New value.
   */
  setHint(e, t) {
    return this.hints_[e] += t, this.changed(), this.hints_[e];
  }
  /**
   * Set the resolution for this view. Any resolution constraint will apply.
   * @param {number|undefined} resolution The resolution of the view.
   * @observable
   * @api
   */
  setResolution(e) {
    this.targetResolution_ = e, this.applyTargetState_();
  }
  /**
   * Set the rotation for this view. Any rotation constraint will apply.
   * @param {number} rotation The rotation of the view in radians.
   * @observable
   * @api
   */
  setRotation(e) {
    this.targetRotation_ = e, this.applyTargetState_();
  }
  /**
   * Zoom to a specific zoom level. Any resolution constrain will apply.
   * @param {number} zoom Zoom level.
   * @api
   */
  setZoom(e) {
    this.setResolution(this.getResolutionForZoom(e));
  }
  /**
   * Recompute rotation/resolution/center based on target values.
   * Note: we have to compute rotation first, then resolution and center considering that
   * parameters can influence one another in case a view extent constraint is present.
   * @param {boolean} [doNotCancelAnims] Do not cancel animations.
   * @param {boolean} [forceMoving] Apply constraints as if the view is moving.
   * @private
   */
  applyTargetState_(e, t) {
    const n = this.getAnimating() || this.getInteracting() || t, s = this.constraints_.rotation(
      this.targetRotation_,
      n
    ), r = this.getViewportSize_(s), o = this.constraints_.resolution(
      this.targetResolution_,
      0,
      r,
      n
    ), a = this.constraints_.center(
      this.targetCenter_,
      o,
      r,
      n,
      this.calculateCenterShift(
        this.targetCenter_,
        o,
        s,
        r
      )
    );
    this.get(Ct.ROTATION) !== s && this.set(Ct.ROTATION, s), this.get(Ct.RESOLUTION) !== o && (this.set(Ct.RESOLUTION, o), this.set("zoom", this.getZoom(), !0)), (!a || !this.get(Ct.CENTER) || !Ze(this.get(Ct.CENTER), a)) && this.set(Ct.CENTER, a), this.getAnimating() && !e && this.cancelAnimations(), this.cancelAnchor_ = void 0;
  }
  /**
   * If any constraints need to be applied, an animation will be triggered.
   * This is typically done on interaction end.
   * Note: calling this with a duration of 0 will apply the constrained values straight away,
   * without animation.
   * @param {number} [duration] The animation duration in ms.
   * @param {number} [resolutionDirection] Which direction to zoom.
   * @param {import("./coordinate.js").Coordinate} [anchor] The origin of the transformation.
   */
  resolveConstraints(e, t, n) {
    e = e !== void 0 ? e : 200;
    const s = t || 0, r = this.constraints_.rotation(this.targetRotation_), o = this.getViewportSize_(r), a = this.constraints_.resolution(
      this.targetResolution_,
      s,
      o
    ), l = this.constraints_.center(
      this.targetCenter_,
      a,
      o,
      !1,
      this.calculateCenterShift(
        this.targetCenter_,
        a,
        r,
        o
      )
    );
    if (e === 0 && !this.cancelAnchor_) {
      this.targetResolution_ = a, this.targetRotation_ = r, this.targetCenter_ = l, this.applyTargetState_();
      return;
    }
    n = n || (e === 0 ? this.cancelAnchor_ : void 0), this.cancelAnchor_ = void 0, (this.getResolution() !== a || this.getRotation() !== r || !this.getCenterInternal() || !Ze(this.getCenterInternal(), l)) && (this.getAnimating() && this.cancelAnimations(), this.animateInternal({
      rotation: r,
      center: l,
      resolution: a,
      duration: e,
      easing: pt,
      anchor: n
    }));
  }
  /**
   * Notify the View that an interaction has started.
   * The view state will be resolved to a stable one if needed
   * (depending on its constraints).
   * @api
   */
  beginInteraction() {
    this.resolveConstraints(0), this.setHint(De.INTERACTING, 1);
  }
  /**
   * Notify the View that an interaction has ended. The view state will be resolved
   * to a stable one if needed (depending on its constraints).
   * @param {number} [duration] Animation duration in ms.
   * @param {number} [resolutionDirection] Which direction to zoom.
   * @param {import("./coordinate.js").Coordinate} [anchor] The origin of the transformation.
   * @api
   */
  endInteraction(e, t, n) {
    n = n && ge(n, this.getProjection()), this.endInteractionInternal(e, t, n);
  }
  /**
   * Notify the View that an interaction has ended. The view state will be resolved
   * to a stable one if needed (depending on its constraints).
   * @param {number} [duration] Animation duration in ms.
   * @param {number} [resolutionDirection] Which direction to zoom.
   * @param {import("./coordinate.js").Coordinate} [anchor] The origin of the transformation.
   */
  endInteractionInternal(e, t, n) {
    this.getInteracting() && (this.setHint(De.INTERACTING, -1), this.resolveConstraints(e, t, n));
  }
  /**
   * Get a valid position for the view center according to the current constraints.
   * @param {import("./coordinate.js").Coordinate|undefined} targetCenter Target center position.
   * @param {number} [targetResolution] Target resolution. If not supplied, the current one will be used.
   * This is useful to guess a valid center position at a different zoom level.
   * @return {import("./coordinate.js").Coordinate|undefined} Valid center position.
   */
  getConstrainedCenter(e, t) {
    const n = this.getViewportSize_(this.getRotation());
    return this.constraints_.center(
      e,
      t || this.getResolution(),
      n
    );
  }
  /**
   * Get a valid zoom level according to the current view constraints.
   * @param {number|undefined} targetZoom Target zoom.
   * @param {number} [direction] Indicate which resolution should be used
   * by a renderer if the view resolution does not match any resolution of the tile source.
   * If 0, the nearest resolution will be used. If 1, the nearest lower resolution
   * will be used. If -1, the nearest higher resolution will be used.
   * @return {number|undefined} Valid zoom level.
   */
  getConstrainedZoom(e, t) {
    const n = this.getResolutionForZoom(e);
    return this.getZoomForResolution(
      this.getConstrainedResolution(n, t)
    );
  }
  /**
   * Get a valid resolution according to the current view constraints.
   * @param {number|undefined} targetResolution Target resolution.
   * @param {number} [direction] Indicate which resolution should be used
   * by a renderer if the view resolution does not match any resolution of the tile source.
   * If 0, the nearest resolution will be used. If 1, the nearest lower resolution
   * will be used. If -1, the nearest higher resolution will be used.
   * @return {number|undefined} Valid resolution.
   */
  getConstrainedResolution(e, t) {
    t = t || 0;
    const n = this.getViewportSize_(this.getRotation());
    return this.constraints_.resolution(e, t, n);
  }
}
function tr(i, e) {
  setTimeout(function() {
    i(e);
  }, 0);
}
function gm(i) {
  if (i.extent !== void 0) {
    const t = i.smoothExtentConstraint !== void 0 ? i.smoothExtentConstraint : !0;
    return Rc(i.extent, i.constrainOnlyCenter, t);
  }
  const e = Ia(i.projection, "EPSG:3857");
  if (i.multiWorld !== !0 && e.isGlobal()) {
    const t = e.getExtent().slice();
    return t[0] = -1 / 0, t[2] = 1 / 0, Rc(t, !1, !1);
  }
  return om;
}
function _m(i) {
  let e, t, n, o = i.minZoom !== void 0 ? i.minZoom : So, a = i.maxZoom !== void 0 ? i.maxZoom : 28;
  const l = i.zoomFactor !== void 0 ? i.zoomFactor : 2, c = i.multiWorld !== void 0 ? i.multiWorld : !1, h = i.smoothResolutionConstraint !== void 0 ? i.smoothResolutionConstraint : !0, u = i.showFullExtent !== void 0 ? i.showFullExtent : !1, d = Ia(i.projection, "EPSG:3857"), f = d.getExtent();
  let g = i.constrainOnlyCenter, m = i.extent;
  if (!c && !m && d.isGlobal() && (g = !1, m = f), i.resolutions !== void 0) {
    const _ = i.resolutions;
    t = _[o], n = _[a] !== void 0 ? _[a] : _[_.length - 1], i.constrainResolution ? e = cm(
      _,
      h,
      !g && m,
      u
    ) : e = wc(
      t,
      n,
      h,
      !g && m,
      u
    );
  } else {
    const p = (f ? Math.max(ae(f), He(f)) : (
      // use an extent that can fit the whole world if need be
      360 * os.degrees / d.getMetersPerUnit()
    )) / tl / Math.pow(2, So), x = p / Math.pow(2, 28 - So);
    t = i.maxResolution, t !== void 0 ? o = 0 : t = p / Math.pow(l, o), n = i.minResolution, n === void 0 && (i.maxZoom !== void 0 ? i.maxResolution !== void 0 ? n = t / Math.pow(l, a) : n = p / Math.pow(l, a) : n = x), a = o + Math.floor(
      Math.log(t / n) / Math.log(l)
    ), n = t / Math.pow(l, a - o), i.constrainResolution ? e = hm(
      l,
      t,
      n,
      h,
      !g && m,
      u
    ) : e = wc(
      t,
      n,
      h,
      !g && m,
      u
    );
  }
  return {
    constraint: e,
    maxResolution: t,
    minResolution: n,
    minZoom: o,
    zoomFactor: l
  };
}
function mm(i) {
  if (i.enableRotation !== void 0 ? i.enableRotation : !0) {
    const t = i.constrainRotation;
    return t === void 0 || t === !0 ? dm() : t === !1 ? Pc : typeof t == "number" ? um(t) : Pc;
  }
  return el;
}
function pm(i) {
  return !(i.sourceCenter && i.targetCenter && !Ze(i.sourceCenter, i.targetCenter) || i.sourceResolution !== i.targetResolution || i.sourceRotation !== i.targetRotation);
}
function Ro(i, e, t, n, s) {
  const r = Math.cos(-s);
  let o = Math.sin(-s), a = i[0] * r - i[1] * o, l = i[1] * r + i[0] * o;
  a += (e[0] / 2 - t[0]) * n, l += (t[1] - e[1] / 2) * n, o = -o;
  const c = a * r - l * o, h = l * r + a * o;
  return [c, h];
}
const oe = {
  OPACITY: "opacity",
  VISIBLE: "visible",
  EXTENT: "extent",
  Z_INDEX: "zIndex",
  MAX_RESOLUTION: "maxResolution",
  MIN_RESOLUTION: "minResolution",
  MAX_ZOOM: "maxZoom",
  MIN_ZOOM: "minZoom",
  SOURCE: "source",
  MAP: "map"
};
class uu extends Wt {
  /**
   * @param {Options} options Layer options.
   */
  constructor(e) {
    super(), this.on, this.once, this.un, this.background_ = e.background;
    const t = Object.assign({}, e);
    typeof e.properties == "object" && (delete t.properties, Object.assign(t, e.properties)), t[oe.OPACITY] = e.opacity !== void 0 ? e.opacity : 1, ie(
      typeof t[oe.OPACITY] == "number",
      "Layer opacity must be a number"
    ), t[oe.VISIBLE] = e.visible !== void 0 ? e.visible : !0, t[oe.Z_INDEX] = e.zIndex, t[oe.MAX_RESOLUTION] = e.maxResolution !== void 0 ? e.maxResolution : 1 / 0, t[oe.MIN_RESOLUTION] = e.minResolution !== void 0 ? e.minResolution : 0, t[oe.MIN_ZOOM] = e.minZoom !== void 0 ? e.minZoom : -1 / 0, t[oe.MAX_ZOOM] = e.maxZoom !== void 0 ? e.maxZoom : 1 / 0, this.className_ = t.className !== void 0 ? t.className : "ol-layer", delete t.className, this.setProperties(t), this.state_ = null;
  }
  /**
   * Get the background for this layer.
   * @return {BackgroundColor|false} Layer background.
   */
  getBackground() {
    return this.background_;
  }
  /**
   * @return {string} CSS class name.
   */
  getClassName() {
    return this.className_;
  }
  /**
   * This method is not meant to be called by layers or layer renderers because the state
   * is incorrect if the layer is included in a layer group.
   *
   * @param {boolean} [managed] Layer is managed.
   * @return {import("./Layer.js").State} Layer state.
   */
  getLayerState(e) {
    const t = this.state_ || /** @type {?} */
    {
      layer: this,
      managed: e === void 0 ? !0 : e
    }, n = this.getZIndex();
    return t.opacity = de(Math.round(this.getOpacity() * 100) / 100, 0, 1), t.visible = this.getVisible(), t.extent = this.getExtent(), t.zIndex = n === void 0 && !t.managed ? 1 / 0 : n, t.maxResolution = this.getMaxResolution(), t.minResolution = Math.max(this.getMinResolution(), 0), t.minZoom = this.getMinZoom(), t.maxZoom = this.getMaxZoom(), this.state_ = t, t;
  }
  /**
   * @abstract
   * @param {Array<import("./Layer.js").default>} [array] Array of layers (to be
   *     modified in place).
   * @return {Array<import("./Layer.js").default>} Array of layers.
   */
  getLayersArray(e) {
    return X();
  }
  /**
   * @abstract
   * @param {Array<import("./Layer.js").State>} [states] Optional list of layer
   *     states (to be modified in place).
   * @return {Array<import("./Layer.js").State>} List of layer states.
   */
  getLayerStatesArray(e) {
    return X();
  }
  /**
   * Return the {@link module:ol/extent~Extent extent} of the layer or `undefined` if it
   * will be visible regardless of extent.
   * @return {import("../extent.js").Extent|undefined} The layer extent.
   * @observable
   * @api
   */
  getExtent() {
    return (
      /** @type {import("../extent.js").Extent|undefined} */
      this.get(oe.EXTENT)
    );
  }
  /**
   * Return the maximum resolution of the layer. Returns Infinity if
   * the layer has no maximum resolution set.
   * @return {number} The maximum resolution of the layer.
   * @observable
   * @api
   */
  getMaxResolution() {
    return (
      /** @type {number} */
      this.get(oe.MAX_RESOLUTION)
    );
  }
  /**
   * Return the minimum resolution of the layer. Returns 0 if
   * the layer has no minimum resolution set.
   * @return {number} The minimum resolution of the layer.
   * @observable
   * @api
   */
  getMinResolution() {
    return (
      /** @type {number} */
      this.get(oe.MIN_RESOLUTION)
    );
  }
  /**
   * Return the minimum zoom level of the layer. Returns -Infinity if
   * the layer has no minimum zoom set.
   * @return {number} The minimum zoom level of the layer.
   * @observable
   * @api
   */
  getMinZoom() {
    return (
      /** @type {number} */
      this.get(oe.MIN_ZOOM)
    );
  }
  /**
   * Return the maximum zoom level of the layer. Returns Infinity if
   * the layer has no maximum zoom set.
   * @return {number} The maximum zoom level of the layer.
   * @observable
   * @api
   */
  getMaxZoom() {
    return (
      /** @type {number} */
      this.get(oe.MAX_ZOOM)
    );
  }
  /**
   * Return the opacity of the layer (between 0 and 1).
   * @return {number} The opacity of the layer.
   * @observable
   * @api
   */
  getOpacity() {
    return (
      /** @type {number} */
      this.get(oe.OPACITY)
    );
  }
  /**
   * @abstract
   * @return {import("../source/Source.js").State} Source state.
   */
  getSourceState() {
    return X();
  }
  /**
   * Return the value of this layer's `visible` property. To find out whether the layer
   * is visible on a map, use `isVisible()` instead.
   * @return {boolean} The value of the `visible` property of the layer.
   * @observable
   * @api
   */
  getVisible() {
    return (
      /** @type {boolean} */
      this.get(oe.VISIBLE)
    );
  }
  /**
   * Return the Z-index of the layer, which is used to order layers before
   * rendering. Returns undefined if the layer is unmanaged.
   * @return {number|undefined} The Z-index of the layer.
   * @observable
   * @api
   */
  getZIndex() {
    return (
      /** @type {number|undefined} */
      this.get(oe.Z_INDEX)
    );
  }
  /**
   * Sets the background color.
   * @param {BackgroundColor} [background] Background color.
   */
  setBackground(e) {
    this.background_ = e, this.changed();
  }
  /**
   * Set the extent at which the layer is visible.  If `undefined`, the layer
   * will be visible at all extents.
   * @param {import("../extent.js").Extent|undefined} extent The extent of the layer.
   * @observable
   * @api
   */
  setExtent(e) {
    this.set(oe.EXTENT, e);
  }
  /**
   * Set the maximum resolution at which the layer is visible.
   * @param {number} maxResolution The maximum resolution of the layer.
   * @observable
   * @api
   */
  setMaxResolution(e) {
    this.set(oe.MAX_RESOLUTION, e);
  }
  /**
   * Set the minimum resolution at which the layer is visible.
   * @param {number} minResolution The minimum resolution of the layer.
   * @observable
   * @api
   */
  setMinResolution(e) {
    this.set(oe.MIN_RESOLUTION, e);
  }
  /**
   * Set the maximum zoom (exclusive) at which the layer is visible.
   * Note that the zoom levels for layer visibility are based on the
   * view zoom level, which may be different from a tile source zoom level.
   * @param {number} maxZoom The maximum zoom of the layer.
   * @observable
   * @api
   */
  setMaxZoom(e) {
    this.set(oe.MAX_ZOOM, e);
  }
  /**
   * Set the minimum zoom (inclusive) at which the layer is visible.
   * Note that the zoom levels for layer visibility are based on the
   * view zoom level, which may be different from a tile source zoom level.
   * @param {number} minZoom The minimum zoom of the layer.
   * @observable
   * @api
   */
  setMinZoom(e) {
    this.set(oe.MIN_ZOOM, e);
  }
  /**
   * Set the opacity of the layer, allowed values range from 0 to 1.
   * @param {number} opacity The opacity of the layer.
   * @observable
   * @api
   */
  setOpacity(e) {
    ie(typeof e == "number", "Layer opacity must be a number"), this.set(oe.OPACITY, e);
  }
  /**
   * Set the visibility of the layer (`true` or `false`).
   * @param {boolean} visible The visibility of the layer.
   * @observable
   * @api
   */
  setVisible(e) {
    this.set(oe.VISIBLE, e);
  }
  /**
   * Set Z-index of the layer, which is used to order layers before rendering.
   * The default Z-index is 0.
   * @param {number} zindex The z-index of the layer.
   * @observable
   * @api
   */
  setZIndex(e) {
    this.set(oe.Z_INDEX, e);
  }
  /**
   * Clean up.
   * @override
   */
  disposeInternal() {
    this.state_ && (this.state_.layer = null, this.state_ = null), super.disposeInternal();
  }
}
class Gs extends uu {
  /**
   * @param {Options<SourceType>} options Layer options.
   */
  constructor(e) {
    const t = Object.assign({}, e);
    delete t.source, super(t), this.on, this.once, this.un, this.mapPrecomposeKey_ = null, this.mapRenderKey_ = null, this.sourceChangeKey_ = null, this.renderer_ = null, this.sourceReady_ = !1, this.rendered = !1, e.render && (this.render = e.render), e.map && this.setMap(e.map), this.addChangeListener(
      oe.SOURCE,
      this.handleSourcePropertyChange_
    );
    const n = e.source ? (
      /** @type {SourceType} */
      e.source
    ) : null;
    this.setSource(n);
  }
  /**
   * @param {Array<import("./Layer.js").default>} [array] Array of layers (to be modified in place).
   * @return {Array<import("./Layer.js").default>} Array of layers.
   * @override
   */
  getLayersArray(e) {
    return e = e || [], e.push(this), e;
  }
  /**
   * @param {Array<import("./Layer.js").State>} [states] Optional list of layer states (to be modified in place).
   * @return {Array<import("./Layer.js").State>} List of layer states.
   * @override
   */
  getLayerStatesArray(e) {
    return e = e || [], e.push(this.getLayerState()), e;
  }
  /**
   * Get the layer source.
   * @return {SourceType|null} The layer source (or `null` if not yet set).
   * @observable
   * @api
   */
  getSource() {
    return (
      /** @type {SourceType} */
      this.get(oe.SOURCE) || null
    );
  }
  /**
   * @return {SourceType|null} The source being rendered.
   */
  getRenderSource() {
    return this.getSource();
  }
  /**
   * @return {import("../source/Source.js").State} Source state.
   * @override
   */
  getSourceState() {
    const e = this.getSource();
    return e ? e.getState() : "undefined";
  }
  /**
   * @private
   */
  handleSourceChange_() {
    this.changed(), !(this.sourceReady_ || this.getSource().getState() !== "ready") && (this.sourceReady_ = !0, this.dispatchEvent("sourceready"));
  }
  /**
   * @private
   */
  handleSourcePropertyChange_() {
    this.sourceChangeKey_ && (ce(this.sourceChangeKey_), this.sourceChangeKey_ = null), this.sourceReady_ = !1;
    const e = this.getSource();
    e && (this.sourceChangeKey_ = ne(
      e,
      Y.CHANGE,
      this.handleSourceChange_,
      this
    ), e.getState() === "ready" && (this.sourceReady_ = !0, setTimeout(() => {
      this.dispatchEvent("sourceready");
    }, 0))), this.changed();
  }
  /**
   * @param {import("../pixel").Pixel} pixel Pixel.
   * @return {Promise<Array<import("../Feature").FeatureLike>>} Promise that resolves with
   * an array of features.
   */
  getFeatures(e) {
    return this.renderer_ ? this.renderer_.getFeatures(e) : Promise.resolve([]);
  }
  /**
   * @param {import("../pixel").Pixel} pixel Pixel.
   * @return {Uint8ClampedArray|Uint8Array|Float32Array|DataView|null} Pixel data.
   */
  getData(e) {
    return !this.renderer_ || !this.rendered ? null : this.renderer_.getData(e);
  }
  /**
   * The layer is visible on the map view, i.e. within its min/max resolution or zoom and
   * extent, not set to `visible: false`, and not inside a layer group that is set
   * to `visible: false`.
   * @param {View|import("../View.js").ViewStateLayerStateExtent} [view] View or {@link import("../Map.js").FrameState}.
   * Only required when the layer is not added to a map.
   * @return {boolean} The layer is visible in the map view.
   * @api
   */
  isVisible(e) {
    let t;
    const n = this.getMapInternal();
    !e && n && (e = n.getView()), e instanceof Nt ? t = {
      viewState: e.getState(),
      extent: e.calculateExtent()
    } : t = e, !t.layerStatesArray && n && (t.layerStatesArray = n.getLayerGroup().getLayerStatesArray());
    let s;
    if (t.layerStatesArray) {
      if (s = t.layerStatesArray.find(
        (o) => o.layer === this
      ), !s)
        return !1;
    } else
      s = this.getLayerState();
    const r = this.getExtent();
    return nl(s, t.viewState) && (!r || Ke(r, t.extent));
  }
  /**
   * Get the attributions of the source of this layer for the given view.
   * @param {View|import("../View.js").ViewStateLayerStateExtent} [view] View or {@link import("../Map.js").FrameState}.
   * Only required when the layer is not added to a map.
   * @return {Array<string>} Attributions for this layer at the given view.
   * @api
   */
  getAttributions(e) {
    if (!this.isVisible(e))
      return [];
    const t = this.getSource()?.getAttributions();
    if (!t)
      return [];
    const n = e instanceof Nt ? e.getViewStateAndExtent() : e;
    let s = t(n);
    return Array.isArray(s) || (s = [s]), s;
  }
  /**
   * In charge to manage the rendering of the layer. One layer type is
   * bounded with one layer renderer.
   * @param {?import("../Map.js").FrameState} frameState Frame state.
   * @param {HTMLElement} target Target which the renderer may (but need not) use
   * for rendering its content.
   * @return {HTMLElement|null} The rendered element.
   */
  render(e, t) {
    const n = this.getRenderer();
    return n.prepareFrame(e) ? (this.rendered = !0, n.renderFrame(e, t)) : null;
  }
  /**
   * Called when a layer is not visible during a map render.
   */
  unrender() {
    this.rendered = !1;
  }
  /** @return {string} Declutter */
  getDeclutter() {
  }
  /**
   * @param {import("../Map.js").FrameState} frameState Frame state.
   * @param {import("../layer/Layer.js").State} layerState Layer state.
   */
  renderDeclutter(e, t) {
  }
  /**
   * When the renderer follows a layout -> render approach, do the final rendering here.
   * @param {import('../Map.js').FrameState} frameState Frame state
   */
  renderDeferred(e) {
    const t = this.getRenderer();
    t && t.renderDeferred(e);
  }
  /**
   * For use inside the library only.
   * @param {import("../Map.js").default|null} map Map.
   */
  setMapInternal(e) {
    e || this.unrender(), this.set(oe.MAP, e);
  }
  /**
   * For use inside the library only.
   * @return {import("../Map.js").default|null} Map.
   */
  getMapInternal() {
    return this.get(oe.MAP);
  }
  /**
   * Sets the layer to be rendered on top of other layers on a map. The map will
   * not manage this layer in its layers collection. This
   * is useful for temporary layers. To remove an unmanaged layer from the map,
   * use `#setMap(null)`.
   *
   * To add the layer to a map and have it managed by the map, use
   * {@link module:ol/Map~Map#addLayer} instead.
   * @param {import("../Map.js").default|null} map Map.
   * @api
   */
  setMap(e) {
    this.mapPrecomposeKey_ && (ce(this.mapPrecomposeKey_), this.mapPrecomposeKey_ = null), e || this.changed(), this.mapRenderKey_ && (ce(this.mapRenderKey_), this.mapRenderKey_ = null), e && (this.mapPrecomposeKey_ = ne(
      e,
      Oe.PRECOMPOSE,
      this.handlePrecompose_,
      this
    ), this.mapRenderKey_ = ne(this, Y.CHANGE, e.render, e), this.changed());
  }
  /**
   * @param {import("../events/Event.js").default} renderEvent Render event
   * @private
   */
  handlePrecompose_(e) {
    const t = (
      /** @type {import("../render/Event.js").default} */
      e.frameState.layerStatesArray
    ), n = this.getLayerState(!1);
    ie(
      !t.some(
        (s) => s.layer === n.layer
      ),
      "A layer can only be added to the map once. Use either `layer.setMap()` or `map.addLayer()`, not both."
    ), t.push(n);
  }
  /**
   * Set the layer source.
   * @param {SourceType|null} source The layer source.
   * @observable
   * @api
   */
  setSource(e) {
    this.set(oe.SOURCE, e);
  }
  /**
   * Get the renderer for this layer.
   * @return {RendererType|null} The layer renderer.
   */
  getRenderer() {
    return this.renderer_ || (this.renderer_ = this.createRenderer()), this.renderer_;
  }
  /**
   * @return {boolean} The layer has a renderer.
   */
  hasRenderer() {
    return !!this.renderer_;
  }
  /**
   * Create a renderer for this layer.
   * @return {RendererType} A layer renderer.
   * @protected
   */
  createRenderer() {
    return null;
  }
  /**
   * This will clear the renderer so that a new one can be created next time it is needed
   */
  clearRenderer() {
    this.renderer_ && (this.renderer_.dispose(), delete this.renderer_);
  }
  /**
   * Clean up.
   * @override
   */
  disposeInternal() {
    this.clearRenderer(), this.setSource(null), super.disposeInternal();
  }
}
function nl(i, e) {
  if (!i.visible)
    return !1;
  const t = e.resolution;
  if (t < i.minResolution || t >= i.maxResolution)
    return !1;
  const n = e.zoom;
  return n > i.minZoom && n <= i.maxZoom;
}
const Ic = {
  RENDER_ORDER: "renderOrder"
};
class il extends Gs {
  /**
   * @param {Options<FeatureType, VectorSourceType>} [options] Options.
   */
  constructor(e) {
    e = e || {};
    const t = Object.assign({}, e);
    delete t.style, delete t.renderBuffer, delete t.updateWhileAnimating, delete t.updateWhileInteracting, super(t), this.declutter_ = e.declutter ? String(e.declutter) : void 0, this.renderBuffer_ = e.renderBuffer !== void 0 ? e.renderBuffer : 100, this.style_ = null, this.styleFunction_ = void 0, this.setStyle(e.style), this.updateWhileAnimating_ = e.updateWhileAnimating !== void 0 ? e.updateWhileAnimating : !1, this.updateWhileInteracting_ = e.updateWhileInteracting !== void 0 ? e.updateWhileInteracting : !1;
  }
  /**
   * @return {string} Declutter group.
   * @override
   */
  getDeclutter() {
    return this.declutter_;
  }
  /**
   * Get the topmost feature that intersects the given pixel on the viewport. Returns a promise
   * that resolves with an array of features. The array will either contain the topmost feature
   * when a hit was detected, or it will be empty.
   *
   * The hit detection algorithm used for this method is optimized for performance, but is less
   * accurate than the one used in [map.getFeaturesAtPixel()]{@link import("../Map.js").default#getFeaturesAtPixel}.
   * Text is not considered, and icons are only represented by their bounding box instead of the exact
   * image.
   *
   * @param {import("../pixel.js").Pixel} pixel Pixel.
   * @return {Promise<Array<import("../Feature").FeatureLike>>} Promise that resolves with an array of features.
   * @api
   * @override
   */
  getFeatures(e) {
    return super.getFeatures(e);
  }
  /**
   * @return {number|undefined} Render buffer.
   */
  getRenderBuffer() {
    return this.renderBuffer_;
  }
  /**
   * @return {import("../render.js").OrderFunction|null|undefined} Render order.
   */
  getRenderOrder() {
    return (
      /** @type {import("../render.js").OrderFunction|null|undefined} */
      this.get(Ic.RENDER_ORDER)
    );
  }
  /**
   * Get the style for features.  This returns whatever was passed to the `style`
   * option at construction or to the `setStyle` method.
   * @return {import("../style/Style.js").StyleLike|import("../style/flat.js").FlatStyleLike|null|undefined} Layer style.
   * @api
   */
  getStyle() {
    return this.style_;
  }
  /**
   * Get the style function.
   * @return {import("../style/Style.js").StyleFunction|undefined} Layer style function.
   * @api
   */
  getStyleFunction() {
    return this.styleFunction_;
  }
  /**
   * @return {boolean} Whether the rendered layer should be updated while
   *     animating.
   */
  getUpdateWhileAnimating() {
    return this.updateWhileAnimating_;
  }
  /**
   * @return {boolean} Whether the rendered layer should be updated while
   *     interacting.
   */
  getUpdateWhileInteracting() {
    return this.updateWhileInteracting_;
  }
  /**
   * Render declutter items for this layer
   * @param {import("../Map.js").FrameState} frameState Frame state.
   * @param {import("../layer/Layer.js").State} layerState Layer state.
   * @override
   */
  renderDeclutter(e, t) {
    const n = this.getDeclutter();
    n in e.declutter || (e.declutter[n] = new Jh(9)), this.getRenderer().renderDeclutter(e, t);
  }
  /**
   * @param {import("../render.js").OrderFunction|null|undefined} renderOrder
   *     Render order.
   */
  setRenderOrder(e) {
    this.set(Ic.RENDER_ORDER, e);
  }
  /**
   * Set the style for features.  This can be a single style object, an array
   * of styles, or a function that takes a feature and resolution and returns
   * an array of styles. If set to `null`, the layer has no style (a `null` style),
   * so only features that have their own styles will be rendered in the layer. Call
   * `setStyle()` without arguments to reset to the default style. See
   * [the ol/style/Style module]{@link module:ol/style/Style~Style} for information on the default style.
   *
   * If your layer has a static style, you can use [flat style]{@link module:ol/style/flat~FlatStyle} object
   * literals instead of using the `Style` and symbolizer constructors (`Fill`, `Stroke`, etc.):
   * ```js
   * vectorLayer.setStyle({
   *   "fill-color": "yellow",
   *   "stroke-color": "black",
   *   "stroke-width": 4
   * })
   * ```
   *
   * @param {import("../style/Style.js").StyleLike|import("../style/flat.js").FlatStyleLike|null} [style] Layer style.
   * @api
   */
  setStyle(e) {
    this.style_ = e === void 0 ? Xh : e;
    const t = ym(e);
    this.styleFunction_ = e === null ? void 0 : Lg(t), this.changed();
  }
  /**
   * @param {boolean|string|number} declutter Declutter images and text.
   * @api
   */
  setDeclutter(e) {
    this.declutter_ = e ? String(e) : void 0, this.changed();
  }
}
function ym(i) {
  if (i === void 0)
    return Xh;
  if (!i)
    return null;
  if (typeof i == "function" || i instanceof Ne)
    return i;
  if (!Array.isArray(i))
    return vc([i]);
  if (i.length === 0)
    return [];
  const e = i.length, t = i[0];
  if (t instanceof Ne) {
    const s = new Array(e);
    for (let r = 0; r < e; ++r) {
      const o = i[r];
      if (!(o instanceof Ne))
        throw new Error("Expected a list of style instances");
      s[r] = o;
    }
    return s;
  }
  if ("style" in t) {
    const s = new Array(e);
    for (let r = 0; r < e; ++r) {
      const o = i[r];
      if (!("style" in o))
        throw new Error("Expected a list of rules with a style property");
      s[r] = o;
    }
    return Y_(s);
  }
  return vc(
    /** @type {Array<import("../style/flat.js").FlatStyle>} */
    i
  );
}
class Hr extends il {
  /**
   * @param {Options<VectorSourceType, FeatureType>} [options] Options.
   */
  constructor(e) {
    super(e);
  }
  /**
   * @override
   */
  createRenderer() {
    return new C_(this);
  }
}
const W = {
  IDLE: 0,
  LOADING: 1,
  LOADED: 2,
  /**
   * Indicates that tile loading failed
   * @type {number}
   */
  ERROR: 3,
  EMPTY: 4
};
class sl extends Br {
  /**
   * @param {import("./tilecoord.js").TileCoord} tileCoord Tile coordinate.
   * @param {import("./TileState.js").default} state State.
   * @param {Options} [options] Tile options.
   */
  constructor(e, t, n) {
    super(), n = n || {}, this.tileCoord = e, this.state = t, this.key = "", this.transition_ = n.transition === void 0 ? 250 : n.transition, this.transitionStarts_ = {}, this.interpolate = !!n.interpolate;
  }
  /**
   * @protected
   */
  changed() {
    this.dispatchEvent(Y.CHANGE);
  }
  /**
   * Called by the tile cache when the tile is removed from the cache due to expiry
   */
  release() {
    this.setState(W.EMPTY);
  }
  /**
   * @return {string} Key.
   */
  getKey() {
    return this.key + "/" + this.tileCoord;
  }
  /**
   * Get the tile coordinate for this tile.
   * @return {import("./tilecoord.js").TileCoord} The tile coordinate.
   * @api
   */
  getTileCoord() {
    return this.tileCoord;
  }
  /**
   * @return {import("./TileState.js").default} State.
   */
  getState() {
    return this.state;
  }
  /**
   * Sets the state of this tile. If you write your own {@link module:ol/Tile~LoadFunction tileLoadFunction} ,
   * it is important to set the state correctly to {@link module:ol/TileState~ERROR}
   * when the tile cannot be loaded. Otherwise the tile cannot be removed from
   * the tile queue and will block other requests.
   * @param {import("./TileState.js").default} state State.
   * @api
   */
  setState(e) {
    if (this.state !== W.EMPTY) {
      if (this.state !== W.ERROR && this.state > e)
        throw new Error("Tile load sequence violation");
      this.state = e, this.changed();
    }
  }
  /**
   * Load the image or retry if loading previously failed.
   * Loading is taken care of by the tile queue, and calling this method is
   * only needed for preloading or for reloading in case of an error.
   * @abstract
   * @api
   */
  load() {
    X();
  }
  /**
   * Get the alpha value for rendering.
   * @param {string} id An id for the renderer.
   * @param {number} time The render frame time.
   * @return {number} A number between 0 and 1.
   */
  getAlpha(e, t) {
    if (!this.transition_)
      return 1;
    let n = this.transitionStarts_[e];
    if (!n)
      n = t, this.transitionStarts_[e] = n;
    else if (n === -1)
      return 1;
    const s = t - n + 1e3 / 60;
    return s >= this.transition_ ? 1 : hu(s / this.transition_);
  }
  /**
   * Determine if a tile is in an alpha transition.  A tile is considered in
   * transition if tile.getAlpha() has not yet been called or has been called
   * and returned 1.
   * @param {string} id An id for the renderer.
   * @return {boolean} The tile is in transition.
   */
  inTransition(e) {
    return this.transition_ ? this.transitionStarts_[e] !== -1 : !1;
  }
  /**
   * Mark a transition as complete.
   * @param {string} id An id for the renderer.
   */
  endTransition(e) {
    this.transition_ && (this.transitionStarts_[e] = -1);
  }
  /**
   * @override
   */
  disposeInternal() {
    this.release(), super.disposeInternal();
  }
}
class du extends sl {
  /**
   * @param {import("./tilecoord.js").TileCoord} tileCoord Tile coordinate.
   * @param {import("./TileState.js").default} state State.
   * @param {string} src Image source URI.
   * @param {?string} crossOrigin Cross origin.
   * @param {import("./Tile.js").LoadFunction} tileLoadFunction Tile load function.
   * @param {import("./Tile.js").Options} [options] Tile options.
   */
  constructor(e, t, n, s, r, o) {
    super(e, t, o), this.crossOrigin_ = s, this.src_ = n, this.key = n, this.image_, ct ? this.image_ = new OffscreenCanvas(1, 1) : (this.image_ = new Image(), s !== null && (this.image_.crossOrigin = s)), this.unlisten_ = null, this.tileLoadFunction_ = r;
  }
  /**
   * Get the HTML image element for this tile (may be a Canvas, OffscreenCanvas, Image, or Video).
   * @return {HTMLCanvasElement|OffscreenCanvas|HTMLImageElement|HTMLVideoElement} Image.
   * @api
   */
  getImage() {
    return this.image_;
  }
  /**
   * Sets an HTML image element for this tile (may be a Canvas or preloaded Image).
   * @param {HTMLCanvasElement|OffscreenCanvas|HTMLImageElement} element Element.
   */
  setImage(e) {
    this.image_ = e, this.state = W.LOADED, this.unlistenImage_(), this.changed();
  }
  /**
   * Get the cross origin of the ImageTile.
   * @return {string} Cross origin.
   */
  getCrossOrigin() {
    return this.crossOrigin_;
  }
  /**
   * Tracks loading or read errors.
   *
   * @private
   */
  handleImageError_() {
    this.state = W.ERROR, this.unlistenImage_(), this.image_ = xm(), this.changed();
  }
  /**
   * Tracks successful image load.
   *
   * @private
   */
  handleImageLoad_() {
    if (ct)
      this.state = W.LOADED;
    else {
      const e = (
        /** @type {HTMLImageElement} */
        this.image_
      );
      e.naturalWidth && e.naturalHeight ? this.state = W.LOADED : this.state = W.EMPTY;
    }
    this.unlistenImage_(), this.changed();
  }
  /**
   * Load the image or retry if loading previously failed.
   * Loading is taken care of by the tile queue, and calling this method is
   * only needed for preloading or for reloading in case of an error.
   *
   * To retry loading tiles on failed requests, use a custom `tileLoadFunction`
   * that checks for error status codes and reloads only when the status code is
   * 408, 429, 500, 502, 503 and 504, and only when not too many retries have been
   * made already:
   *
   * ```js
   * const retryCodes = [408, 429, 500, 502, 503, 504];
   * const retries = {};
   * source.setTileLoadFunction((tile, src) => {
   *   const image = tile.getImage();
   *   fetch(src)
   *     .then((response) => {
   *       if (retryCodes.includes(response.status)) {
   *         retries[src] = (retries[src] || 0) + 1;
   *         if (retries[src] <= 3) {
   *           setTimeout(() => tile.load(), retries[src] * 1000);
   *         }
   *         return Promise.reject();
   *       }
   *       return response.blob();
   *     })
   *     .then((blob) => {
   *       const imageUrl = URL.createObjectURL(blob);
   *       image.src = imageUrl;
   *       setTimeout(() => URL.revokeObjectURL(imageUrl), 5000);
   *     })
   *     .catch(() => tile.setState(3)); // error
   * });
   * ```
   * @api
   * @override
   */
  load() {
    this.state == W.ERROR && (this.state = W.IDLE, this.image_ = new Image(), this.crossOrigin_ !== null && (this.image_.crossOrigin = this.crossOrigin_)), this.state == W.IDLE && (this.state = W.LOADING, this.changed(), this.tileLoadFunction_(this, this.src_), this.unlisten_ = yg(
      this.image_,
      this.handleImageLoad_.bind(this),
      this.handleImageError_.bind(this)
    ));
  }
  /**
   * Discards event handlers which listen for load completion or errors.
   *
   * @private
   */
  unlistenImage_() {
    this.unlisten_ && (this.unlisten_(), this.unlisten_ = null);
  }
  /**
   * @override
   */
  disposeInternal() {
    this.unlistenImage_(), this.image_ = null, super.disposeInternal();
  }
}
function xm() {
  const i = Pe(1, 1);
  return i.fillStyle = "rgba(0,0,0,0)", i.fillRect(0, 0, 1, 1), i.canvas;
}
class Em {
  /**
   * @param {number} decay Rate of decay (must be negative).
   * @param {number} minVelocity Minimum velocity (pixels/millisecond).
   * @param {number} delay Delay to consider to calculate the kinetic
   *     initial values (milliseconds).
   */
  constructor(e, t, n) {
    this.decay_ = e, this.minVelocity_ = t, this.delay_ = n, this.points_ = [], this.angle_ = 0, this.initialVelocity_ = 0;
  }
  /**
   * FIXME empty description for jsdoc
   */
  begin() {
    this.points_.length = 0, this.angle_ = 0, this.initialVelocity_ = 0;
  }
  /**
   * @param {number} x X.
   * @param {number} y Y.
   */
  update(e, t) {
    this.points_.push(e, t, Date.now());
  }
  /**
   * @return {boolean} Whether we should do kinetic animation.
   */
  end() {
    if (this.points_.length < 6)
      return !1;
    const e = Date.now() - this.delay_, t = this.points_.length - 3;
    if (this.points_[t + 2] < e)
      return !1;
    let n = t - 3;
    for (; n > 0 && this.points_[n + 2] > e; )
      n -= 3;
    const s = this.points_[t + 2] - this.points_[n + 2];
    if (s < 1e3 / 60)
      return !1;
    const r = this.points_[t] - this.points_[n], o = this.points_[t + 1] - this.points_[n + 1];
    return this.angle_ = Math.atan2(o, r), this.initialVelocity_ = Math.sqrt(r * r + o * o) / s, this.initialVelocity_ > this.minVelocity_;
  }
  /**
   * @return {number} Total distance travelled (pixels).
   */
  getDistance() {
    return (this.minVelocity_ - this.initialVelocity_) / this.decay_;
  }
  /**
   * @return {number} Angle of the kinetic panning animation (radians).
   */
  getAngle() {
    return this.angle_;
  }
}
class gi extends At {
  /**
   * @param {string} type Event type.
   * @param {import("./Map.js").default} map Map.
   * @param {?import("./Map.js").FrameState} [frameState] Frame state.
   */
  constructor(e, t, n) {
    super(e), this.map = t, this.frameState = n !== void 0 ? n : null;
  }
}
class gn extends gi {
  /**
   * @param {string} type Event type.
   * @param {import("./Map.js").default} map Map.
   * @param {EVENT} originalEvent Original event.
   * @param {boolean} [dragging] Is the map currently being dragged?
   * @param {import("./Map.js").FrameState} [frameState] Frame state.
   * @param {Array<PointerEvent>} [activePointers] Active pointers.
   */
  constructor(e, t, n, s, r, o) {
    super(e, t, r), this.originalEvent = n, this.pixel_ = null, this.coordinate_ = null, this.dragging = s !== void 0 ? s : !1, this.activePointers = o;
  }
  /**
   * The map pixel relative to the viewport corresponding to the original event.
   * @type {import("./pixel.js").Pixel}
   * @api
   */
  get pixel() {
    return this.pixel_ || (this.pixel_ = this.map.getEventPixel(this.originalEvent)), this.pixel_;
  }
  set pixel(e) {
    this.pixel_ = e;
  }
  /**
   * The coordinate corresponding to the original browser event.  This will be in the user
   * projection if one is set.  Otherwise it will be in the view projection.
   * @type {import("./coordinate.js").Coordinate}
   * @api
   */
  get coordinate() {
    return this.coordinate_ || (this.coordinate_ = this.map.getCoordinateFromPixel(this.pixel)), this.coordinate_;
  }
  set coordinate(e) {
    this.coordinate_ = e;
  }
  /**
   * Prevents the default browser action.
   * See https://developer.mozilla.org/en-US/docs/Web/API/event.preventDefault.
   * @api
   * @override
   */
  preventDefault() {
    super.preventDefault(), "preventDefault" in this.originalEvent && this.originalEvent.preventDefault();
  }
  /**
   * Prevents further propagation of the current event.
   * See https://developer.mozilla.org/en-US/docs/Web/API/event.stopPropagation.
   * @api
   * @override
   */
  stopPropagation() {
    super.stopPropagation(), "stopPropagation" in this.originalEvent && this.originalEvent.stopPropagation();
  }
}
const le = {
  /**
   * A true single click with no dragging and no double click. Note that this
   * event is delayed by 250 ms to ensure that it is not a double click.
   * @event module:ol/MapBrowserEvent~MapBrowserEvent#singleclick
   * @api
   */
  SINGLECLICK: "singleclick",
  /**
   * A click with no dragging. A double click will fire two of this.
   * @event module:ol/MapBrowserEvent~MapBrowserEvent#click
   * @api
   */
  CLICK: Y.CLICK,
  /**
   * A true double click, with no dragging.
   * @event module:ol/MapBrowserEvent~MapBrowserEvent#dblclick
   * @api
   */
  DBLCLICK: Y.DBLCLICK,
  /**
   * Triggered when a pointer is dragged.
   * @event module:ol/MapBrowserEvent~MapBrowserEvent#pointerdrag
   * @api
   */
  POINTERDRAG: "pointerdrag",
  /**
   * Triggered when a pointer is moved. Note that on touch devices this is
   * triggered when the map is panned, so is not the same as mousemove.
   * @event module:ol/MapBrowserEvent~MapBrowserEvent#pointermove
   * @api
   */
  POINTERMOVE: "pointermove",
  POINTERDOWN: "pointerdown",
  POINTERUP: "pointerup",
  POINTEROVER: "pointerover",
  POINTEROUT: "pointerout",
  POINTERENTER: "pointerenter",
  POINTERLEAVE: "pointerleave",
  POINTERCANCEL: "pointercancel"
}, ha = {
  POINTERMOVE: "pointermove",
  POINTERDOWN: "pointerdown"
};
class vm extends Br {
  /**
   * @param {import("./Map.js").default} map The map with the viewport to listen to events on.
   * @param {number} [moveTolerance] The minimal distance the pointer must travel to trigger a move.
   */
  constructor(e, t) {
    super(e), this.map_ = e, this.clickTimeoutId_, this.emulateClicks_ = !1, this.dragging_ = !1, this.dragListenerKeys_ = [], this.moveTolerance_ = t === void 0 ? 1 : t, this.down_ = null;
    const n = this.map_.getViewport();
    this.activePointers_ = [], this.trackedTouches_ = {}, this.element_ = n, this.pointerdownListenerKey_ = ne(
      n,
      ha.POINTERDOWN,
      this.handlePointerDown_,
      this
    ), this.originalPointerMoveEvent_, this.relayedListenerKey_ = ne(
      n,
      ha.POINTERMOVE,
      this.relayMoveEvent_,
      this
    ), this.boundHandleTouchMove_ = this.handleTouchMove_.bind(this), this.element_.addEventListener(
      Y.TOUCHMOVE,
      this.boundHandleTouchMove_,
      Gh ? { passive: !1 } : !1
    );
  }
  /**
   * @param {PointerEvent} pointerEvent Pointer
   * event.
   * @private
   */
  emulateClick_(e) {
    let t = new gn(
      le.CLICK,
      this.map_,
      e
    );
    this.dispatchEvent(t), this.clickTimeoutId_ !== void 0 ? (clearTimeout(this.clickTimeoutId_), this.clickTimeoutId_ = void 0, t = new gn(
      le.DBLCLICK,
      this.map_,
      e
    ), this.dispatchEvent(t)) : this.clickTimeoutId_ = setTimeout(() => {
      this.clickTimeoutId_ = void 0;
      const n = new gn(
        le.SINGLECLICK,
        this.map_,
        e
      );
      this.dispatchEvent(n);
    }, 250);
  }
  /**
   * Keeps track on how many pointers are currently active.
   *
   * @param {PointerEvent} pointerEvent Pointer
   * event.
   * @private
   */
  updateActivePointers_(e) {
    const t = e, n = t.pointerId;
    if (t.type == le.POINTERUP || t.type == le.POINTERCANCEL) {
      delete this.trackedTouches_[n];
      for (const s in this.trackedTouches_)
        if (this.trackedTouches_[s].target !== t.target) {
          delete this.trackedTouches_[s];
          break;
        }
    } else (t.type == le.POINTERDOWN || t.type == le.POINTERMOVE) && (this.trackedTouches_[n] = t);
    this.activePointers_ = Object.values(this.trackedTouches_);
  }
  /**
   * @param {PointerEvent} pointerEvent Pointer
   * event.
   * @private
   */
  handlePointerUp_(e) {
    this.updateActivePointers_(e);
    const t = new gn(
      le.POINTERUP,
      this.map_,
      e,
      void 0,
      void 0,
      this.activePointers_
    );
    this.dispatchEvent(t), this.emulateClicks_ && !t.defaultPrevented && !this.dragging_ && this.isMouseActionButton_(e) && this.emulateClick_(this.down_), this.activePointers_.length === 0 && (this.dragListenerKeys_.forEach(ce), this.dragListenerKeys_.length = 0, this.dragging_ = !1, this.down_ = null);
  }
  /**
   * @param {PointerEvent} pointerEvent Pointer
   * event.
   * @return {boolean} If the left mouse button was pressed.
   * @private
   */
  isMouseActionButton_(e) {
    return e.button === 0;
  }
  /**
   * @param {PointerEvent} pointerEvent Pointer
   * event.
   * @private
   */
  handlePointerDown_(e) {
    this.emulateClicks_ = this.activePointers_.length === 0, this.updateActivePointers_(e);
    const t = new gn(
      le.POINTERDOWN,
      this.map_,
      e,
      void 0,
      void 0,
      this.activePointers_
    );
    if (this.dispatchEvent(t), this.down_ = new PointerEvent(e.type, e), Object.defineProperty(this.down_, "target", {
      writable: !1,
      value: e.target
    }), this.dragListenerKeys_.length === 0) {
      const n = this.map_.getOwnerDocument();
      this.dragListenerKeys_.push(
        ne(
          n,
          le.POINTERMOVE,
          this.handlePointerMove_,
          this
        ),
        ne(n, le.POINTERUP, this.handlePointerUp_, this),
        /* Note that the listener for `pointercancel is set up on
         * `pointerEventHandler_` and not `documentPointerEventHandler_` like
         * the `pointerup` and `pointermove` listeners.
         *
         * The reason for this is the following: `TouchSource.vacuumTouches_()`
         * issues `pointercancel` events, when there was no `touchend` for a
         * `touchstart`. Now, let's say a first `touchstart` is registered on
         * `pointerEventHandler_`. The `documentPointerEventHandler_` is set up.
         * But `documentPointerEventHandler_` doesn't know about the first
         * `touchstart`. If there is no `touchend` for the `touchstart`, we can
         * only receive a `touchcancel` from `pointerEventHandler_`, because it is
         * only registered there.
         */
        ne(
          this.element_,
          le.POINTERCANCEL,
          this.handlePointerUp_,
          this
        )
      ), this.element_.getRootNode && this.element_.getRootNode() !== n && this.dragListenerKeys_.push(
        ne(
          this.element_.getRootNode(),
          le.POINTERUP,
          this.handlePointerUp_,
          this
        )
      );
    }
  }
  /**
   * @param {PointerEvent} pointerEvent Pointer
   * event.
   * @private
   */
  handlePointerMove_(e) {
    if (this.isMoving_(e)) {
      this.updateActivePointers_(e), this.dragging_ = !0;
      const t = new gn(
        le.POINTERDRAG,
        this.map_,
        e,
        this.dragging_,
        void 0,
        this.activePointers_
      );
      this.dispatchEvent(t);
    }
  }
  /**
   * Wrap and relay a pointermove event.
   * @param {PointerEvent} pointerEvent Pointer
   * event.
   * @private
   */
  relayMoveEvent_(e) {
    this.originalPointerMoveEvent_ = e;
    const t = !!(this.down_ && this.isMoving_(e));
    this.dispatchEvent(
      new gn(
        le.POINTERMOVE,
        this.map_,
        e,
        t
      )
    );
  }
  /**
   * Flexible handling of a `touch-action: none` css equivalent: because calling
   * `preventDefault()` on a `pointermove` event does not stop native page scrolling
   * and zooming, we also listen for `touchmove` and call `preventDefault()` on it
   * when an interaction (currently `DragPan` handles the event.
   * @param {TouchEvent} event Event.
   * @private
   */
  handleTouchMove_(e) {
    const t = this.originalPointerMoveEvent_;
    (!t || t.defaultPrevented) && (typeof e.cancelable != "boolean" || e.cancelable === !0) && e.preventDefault();
  }
  /**
   * @param {PointerEvent} pointerEvent Pointer
   * event.
   * @return {boolean} Is moving.
   * @private
   */
  isMoving_(e) {
    return this.dragging_ || Math.abs(e.clientX - this.down_.clientX) > this.moveTolerance_ || Math.abs(e.clientY - this.down_.clientY) > this.moveTolerance_;
  }
  /**
   * Clean up.
   * @override
   */
  disposeInternal() {
    this.relayedListenerKey_ && (ce(this.relayedListenerKey_), this.relayedListenerKey_ = null), this.element_.removeEventListener(
      Y.TOUCHMOVE,
      this.boundHandleTouchMove_
    ), this.pointerdownListenerKey_ && (ce(this.pointerdownListenerKey_), this.pointerdownListenerKey_ = null), this.dragListenerKeys_.forEach(ce), this.dragListenerKeys_.length = 0, this.element_ = null, super.disposeInternal();
  }
}
const _n = {
  /**
   * Triggered after a map frame is rendered.
   * @event module:ol/MapEvent~MapEvent#postrender
   * @api
   */
  POSTRENDER: "postrender",
  /**
   * Triggered when the map starts moving.
   * @event module:ol/MapEvent~MapEvent#movestart
   * @api
   */
  MOVESTART: "movestart",
  /**
   * Triggered after the map is moved.
   * @event module:ol/MapEvent~MapEvent#moveend
   * @api
   */
  MOVEEND: "moveend",
  /**
   * Triggered when loading of additional map data (tiles, images, features) starts.
   * @event module:ol/MapEvent~MapEvent#loadstart
   * @api
   */
  LOADSTART: "loadstart",
  /**
   * Triggered when loading of additional map data has completed.
   * @event module:ol/MapEvent~MapEvent#loadend
   * @api
   */
  LOADEND: "loadend"
}, ze = {
  LAYERGROUP: "layergroup",
  SIZE: "size",
  TARGET: "target",
  VIEW: "view"
}, Rr = 1 / 0;
class Cm {
  /**
   * @param {function(T): number} priorityFunction Priority function.
   * @param {function(T): string} keyFunction Key function.
   */
  constructor(e, t) {
    this.priorityFunction_ = e, this.keyFunction_ = t, this.elements_ = [], this.priorities_ = [], this.queuedElements_ = {};
  }
  /**
   * FIXME empty description for jsdoc
   */
  clear() {
    this.elements_.length = 0, this.priorities_.length = 0, Mi(this.queuedElements_);
  }
  /**
   * Remove and return the highest-priority element. O(log N).
   * @return {T} Element.
   */
  dequeue() {
    const e = this.elements_, t = this.priorities_, n = e[0];
    e.length == 1 ? (e.length = 0, t.length = 0) : (e[0] = /** @type {T} */
    e.pop(), t[0] = /** @type {number} */
    t.pop(), this.siftUp_(0));
    const s = this.keyFunction_(n);
    return delete this.queuedElements_[s], n;
  }
  /**
   * Enqueue an element. O(log N).
   * @param {T} element Element.
   * @return {boolean} The element was added to the queue.
   */
  enqueue(e) {
    ie(
      !(this.keyFunction_(e) in this.queuedElements_),
      "Tried to enqueue an `element` that was already added to the queue"
    );
    const t = this.priorityFunction_(e);
    return t != Rr ? (this.elements_.push(e), this.priorities_.push(t), this.queuedElements_[this.keyFunction_(e)] = !0, this.siftDown_(0, this.elements_.length - 1), !0) : !1;
  }
  /**
   * @return {number} Count.
   */
  getCount() {
    return this.elements_.length;
  }
  /**
   * Gets the index of the left child of the node at the given index.
   * @param {number} index The index of the node to get the left child for.
   * @return {number} The index of the left child.
   * @private
   */
  getLeftChildIndex_(e) {
    return e * 2 + 1;
  }
  /**
   * Gets the index of the right child of the node at the given index.
   * @param {number} index The index of the node to get the right child for.
   * @return {number} The index of the right child.
   * @private
   */
  getRightChildIndex_(e) {
    return e * 2 + 2;
  }
  /**
   * Gets the index of the parent of the node at the given index.
   * @param {number} index The index of the node to get the parent for.
   * @return {number} The index of the parent.
   * @private
   */
  getParentIndex_(e) {
    return e - 1 >> 1;
  }
  /**
   * Make this a heap. O(N).
   * @private
   */
  heapify_() {
    let e;
    for (e = (this.elements_.length >> 1) - 1; e >= 0; e--)
      this.siftUp_(e);
  }
  /**
   * @return {boolean} Is empty.
   */
  isEmpty() {
    return this.elements_.length === 0;
  }
  /**
   * @param {string} key Key.
   * @return {boolean} Is key queued.
   */
  isKeyQueued(e) {
    return e in this.queuedElements_;
  }
  /**
   * @param {T} element Element.
   * @return {boolean} Is queued.
   */
  isQueued(e) {
    return this.isKeyQueued(this.keyFunction_(e));
  }
  /**
   * @param {number} index The index of the node to move down.
   * @private
   */
  siftUp_(e) {
    const t = this.elements_, n = this.priorities_, s = t.length, r = t[e], o = n[e], a = e;
    for (; e < s >> 1; ) {
      const l = this.getLeftChildIndex_(e), c = this.getRightChildIndex_(e), h = c < s && n[c] < n[l] ? c : l;
      t[e] = t[h], n[e] = n[h], e = h;
    }
    t[e] = r, n[e] = o, this.siftDown_(a, e);
  }
  /**
   * @param {number} startIndex The index of the root.
   * @param {number} index The index of the node to move up.
   * @private
   */
  siftDown_(e, t) {
    const n = this.elements_, s = this.priorities_, r = n[t], o = s[t];
    for (; t > e; ) {
      const a = this.getParentIndex_(t);
      if (s[a] > o)
        n[t] = n[a], s[t] = s[a], t = a;
      else
        break;
    }
    n[t] = r, s[t] = o;
  }
  /**
   * FIXME empty description for jsdoc
   */
  reprioritize() {
    const e = this.priorityFunction_, t = this.elements_, n = this.priorities_;
    let s = 0;
    const r = t.length;
    let o, a, l;
    for (a = 0; a < r; ++a)
      o = t[a], l = e(o), l == Rr ? delete this.queuedElements_[this.keyFunction_(o)] : (n[s] = l, t[s++] = o);
    t.length = s, n.length = s, this.heapify_();
  }
}
class Tm extends Cm {
  /**
   * @param {PriorityFunction} tilePriorityFunction Tile priority function.
   * @param {function(): ?} tileChangeCallback Function called on each tile change event.
   */
  constructor(e, t) {
    super(
      (n) => e.apply(null, n),
      (n) => n[0].getKey()
    ), this.boundHandleTileChange_ = this.handleTileChange.bind(this), this.tileChangeCallback_ = t, this.tilesLoading_ = 0, this.tilesLoadingKeys_ = {};
  }
  /**
   * @param {TileQueueElement} element Element.
   * @return {boolean} The element was added to the queue.
   * @override
   */
  enqueue(e) {
    const t = super.enqueue(e);
    return t && e[0].addEventListener(Y.CHANGE, this.boundHandleTileChange_), t;
  }
  /**
   * @return {number} Number of tiles loading.
   */
  getTilesLoading() {
    return this.tilesLoading_;
  }
  /**
   * @param {import("./events/Event.js").default} event Event.
   * @protected
   */
  handleTileChange(e) {
    const t = (
      /** @type {import("./Tile.js").default} */
      e.target
    ), n = t.getState();
    if (n === W.LOADED || n === W.ERROR || n === W.EMPTY) {
      n !== W.ERROR && t.removeEventListener(Y.CHANGE, this.boundHandleTileChange_);
      const s = t.getKey();
      s in this.tilesLoadingKeys_ && (delete this.tilesLoadingKeys_[s], --this.tilesLoading_), this.tileChangeCallback_();
    }
  }
  /**
   * @param {number} maxTotalLoading Maximum number tiles to load simultaneously.
   * @param {number} maxNewLoads Maximum number of new tiles to load.
   */
  loadMoreTiles(e, t) {
    let n = 0;
    for (; this.tilesLoading_ < e && n < t && this.getCount() > 0; ) {
      const s = this.dequeue()[0], r = s.getKey();
      s.getState() === W.IDLE && !(r in this.tilesLoadingKeys_) && (this.tilesLoadingKeys_[r] = !0, ++this.tilesLoading_, ++n, s.load());
    }
  }
}
function Sm(i, e, t, n, s) {
  if (!i || !(t in i.wantedTiles) || !i.wantedTiles[t][e.getKey()])
    return Rr;
  const r = i.viewState.center, o = n[0] - r[0], a = n[1] - r[1];
  return 65536 * Math.log(s) + Math.sqrt(o * o + a * a) / s;
}
class rl extends Wt {
  /**
   * @param {Options} options Control options.
   */
  constructor(e) {
    super();
    const t = e.element;
    t && !e.target && !t.style.pointerEvents && (t.style.pointerEvents = "auto"), this.element = t || null, this.target_ = null, this.map_ = null, this.listenerKeys = [], e.render && (this.render = e.render), e.target && this.setTarget(e.target);
  }
  /**
   * Clean up.
   * @override
   */
  disposeInternal() {
    this.element?.remove(), super.disposeInternal();
  }
  /**
   * Get the map associated with this control.
   * @return {import("../Map.js").default|null} Map.
   * @api
   */
  getMap() {
    return this.map_;
  }
  /**
   * Remove the control from its current map and attach it to the new map.
   * Pass `null` to just remove the control from the current map.
   * Subclasses may set up event handlers to get notified about changes to
   * the map here.
   * @param {import("../Map.js").default|null} map Map.
   * @api
   */
  setMap(e) {
    this.map_ && this.element?.remove();
    for (let t = 0, n = this.listenerKeys.length; t < n; ++t)
      ce(this.listenerKeys[t]);
    if (this.listenerKeys.length = 0, this.map_ = e, e) {
      const t = this.target_ ?? e.getOverlayContainerStopEvent();
      this.element && t.appendChild(this.element), this.render !== us && this.listenerKeys.push(
        ne(e, _n.POSTRENDER, this.render, this)
      ), e.render();
    }
  }
  /**
   * Renders the control.
   * @param {import("../MapEvent.js").default} mapEvent Map event.
   * @api
   */
  render(e) {
  }
  /**
   * This function is used to set a target element for the control. It has no
   * effect if it is called after the control has been added to the map (i.e.
   * after `setMap` is called on the control). If no `target` is set in the
   * options passed to the control constructor and if `setTarget` is not called
   * then the control is added to the map's overlay container.
   * @param {HTMLElement|string} target Target.
   * @api
   */
  setTarget(e) {
    this.target_ = typeof e == "string" ? document.getElementById(e) : e;
  }
}
class fu extends rl {
  /**
   * @param {Options} [options] Attribution options.
   */
  constructor(e) {
    e = e || {}, super({
      element: document.createElement("div"),
      render: e.render,
      target: e.target
    }), this.ulElement_ = document.createElement("ul"), this.collapsed_ = e.collapsed !== void 0 ? e.collapsed : !0, this.userCollapsed_ = this.collapsed_, this.overrideCollapsible_ = e.collapsible !== void 0, this.collapsible_ = e.collapsible !== void 0 ? e.collapsible : !0, this.collapsible_ || (this.collapsed_ = !1), this.attributions_ = e.attributions;
    const t = e.className !== void 0 ? e.className : "ol-attribution", n = e.tipLabel !== void 0 ? e.tipLabel : "Attributions", s = e.expandClassName !== void 0 ? e.expandClassName : t + "-expand", r = e.collapseLabel !== void 0 ? e.collapseLabel : "›", o = e.collapseClassName !== void 0 ? e.collapseClassName : t + "-collapse";
    typeof r == "string" ? (this.collapseLabel_ = document.createElement("span"), this.collapseLabel_.textContent = r, this.collapseLabel_.className = o) : this.collapseLabel_ = r;
    const a = e.label !== void 0 ? e.label : "i";
    typeof a == "string" ? (this.label_ = document.createElement("span"), this.label_.textContent = a, this.label_.className = s) : this.label_ = a;
    const l = this.collapsible_ && !this.collapsed_ ? this.collapseLabel_ : this.label_;
    this.toggleButton_ = document.createElement("button"), this.toggleButton_.setAttribute("type", "button"), this.toggleButton_.setAttribute("aria-expanded", String(!this.collapsed_)), this.toggleButton_.title = n, this.toggleButton_.appendChild(l), this.toggleButton_.addEventListener(
      Y.CLICK,
      this.handleClick_.bind(this),
      !1
    );
    const c = t + " " + Vr + " " + Xa + (this.collapsed_ && this.collapsible_ ? " " + Ql : "") + (this.collapsible_ ? "" : " ol-uncollapsible"), h = this.element;
    h.className = c, h.appendChild(this.toggleButton_), h.appendChild(this.ulElement_), this.renderedAttributions_ = [], this.renderedVisible_ = !0;
  }
  /**
   * Collect a list of visible attributions and set the collapsible state.
   * @param {import("../Map.js").FrameState} frameState Frame state.
   * @return {Array<string>} Attributions.
   * @private
   */
  collectSourceAttributions_(e) {
    const t = this.getMap().getAllLayers(), n = new Set(
      t.flatMap((s) => s.getAttributions(e))
    );
    if (this.attributions_ !== void 0 && (Array.isArray(this.attributions_) ? this.attributions_.forEach((s) => n.add(s)) : n.add(this.attributions_)), !this.overrideCollapsible_) {
      const s = !t.some(
        (r) => r.getSource()?.getAttributionsCollapsible() === !1
      );
      this.setCollapsible(s);
    }
    return Array.from(n);
  }
  /**
   * @private
   * @param {?import("../Map.js").FrameState} frameState Frame state.
   */
  async updateElement_(e) {
    if (!e) {
      this.renderedVisible_ && (this.element.style.display = "none", this.renderedVisible_ = !1);
      return;
    }
    const t = await Promise.all(
      this.collectSourceAttributions_(e).map(
        (s) => Lf(() => s)
      )
    ), n = t.length > 0;
    if (this.renderedVisible_ != n && (this.element.style.display = n ? "" : "none", this.renderedVisible_ = n), !$t(t, this.renderedAttributions_)) {
      ag(this.ulElement_);
      for (let s = 0, r = t.length; s < r; ++s) {
        const o = document.createElement("li");
        o.innerHTML = t[s], this.ulElement_.appendChild(o);
      }
      this.renderedAttributions_ = t;
    }
  }
  /**
   * @param {MouseEvent} event The event to handle
   * @private
   */
  handleClick_(e) {
    e.preventDefault(), this.handleToggle_(), this.userCollapsed_ = this.collapsed_;
  }
  /**
   * @private
   */
  handleToggle_() {
    this.element.classList.toggle(Ql), this.collapsed_ ? ql(this.collapseLabel_, this.label_) : ql(this.label_, this.collapseLabel_), this.collapsed_ = !this.collapsed_, this.toggleButton_.setAttribute("aria-expanded", String(!this.collapsed_));
  }
  /**
   * Return `true` if the attribution is collapsible, `false` otherwise.
   * @return {boolean} True if the widget is collapsible.
   * @api
   */
  getCollapsible() {
    return this.collapsible_;
  }
  /**
   * Set whether the attribution should be collapsible.
   * @param {boolean} collapsible True if the widget is collapsible.
   * @api
   */
  setCollapsible(e) {
    this.collapsible_ !== e && (this.collapsible_ = e, this.element.classList.toggle("ol-uncollapsible"), this.userCollapsed_ && this.handleToggle_());
  }
  /**
   * Collapse or expand the attribution according to the passed parameter. Will
   * not do anything if the attribution isn't collapsible or if the current
   * collapsed state is already the one requested.
   * @param {boolean} collapsed True if the widget is collapsed.
   * @api
   */
  setCollapsed(e) {
    this.userCollapsed_ = e, !(!this.collapsible_ || this.collapsed_ === e) && this.handleToggle_();
  }
  /**
   * Return `true` when the attribution is currently collapsed or `false`
   * otherwise.
   * @return {boolean} True if the widget is collapsed.
   * @api
   */
  getCollapsed() {
    return this.collapsed_;
  }
  /**
   * Update the attribution element.
   * @param {import("../MapEvent.js").default} mapEvent Map event.
   * @override
   */
  render(e) {
    this.updateElement_(e.frameState);
  }
}
class Rm extends rl {
  /**
   * @param {Options} [options] Rotate options.
   */
  constructor(e) {
    e = e || {}, super({
      element: document.createElement("div"),
      render: e.render,
      target: e.target
    });
    const t = e.className !== void 0 ? e.className : "ol-rotate", n = e.label !== void 0 ? e.label : "⇧", s = e.compassClassName !== void 0 ? e.compassClassName : "ol-compass";
    this.label_ = null, typeof n == "string" ? (this.label_ = document.createElement("span"), this.label_.className = s, this.label_.textContent = n) : (this.label_ = n, this.label_.classList.add(s));
    const r = e.tipLabel ? e.tipLabel : "Reset rotation", o = document.createElement("button");
    o.className = t + "-reset", o.setAttribute("type", "button"), o.title = r, o.appendChild(this.label_), o.addEventListener(
      Y.CLICK,
      this.handleClick_.bind(this),
      !1
    );
    const a = t + " " + Vr + " " + Xa, l = this.element;
    l.className = a, l.appendChild(o), this.callResetNorth_ = e.resetNorth ? e.resetNorth : void 0, this.duration_ = e.duration !== void 0 ? e.duration : 250, this.autoHide_ = e.autoHide !== void 0 ? e.autoHide : !0, this.rotation_ = void 0, this.autoHide_ && this.element.classList.add(Ks);
  }
  /**
   * @param {MouseEvent} event The event to handle
   * @private
   */
  handleClick_(e) {
    e.preventDefault(), this.callResetNorth_ !== void 0 ? this.callResetNorth_() : this.resetNorth_();
  }
  /**
   * @private
   */
  resetNorth_() {
    const t = this.getMap().getView();
    if (!t)
      return;
    const n = t.getRotation();
    n !== void 0 && (this.duration_ > 0 && n % (2 * Math.PI) !== 0 ? t.animate({
      rotation: 0,
      duration: this.duration_,
      easing: pt
    }) : t.setRotation(0));
  }
  /**
   * Update the rotate control element.
   * @param {import("../MapEvent.js").default} mapEvent Map event.
   * @override
   */
  render(e) {
    const t = e.frameState;
    if (!t)
      return;
    const n = t.viewState.rotation;
    if (n != this.rotation_) {
      const s = "rotate(" + n + "rad)";
      if (this.autoHide_) {
        const r = this.element.classList.contains(Ks);
        !r && n === 0 ? this.element.classList.add(Ks) : r && n !== 0 && this.element.classList.remove(Ks);
      }
      this.label_.style.transform = s;
    }
    this.rotation_ = n;
  }
}
class gu extends rl {
  /**
   * @param {Options} [options] Zoom options.
   */
  constructor(e) {
    e = e || {}, super({
      element: document.createElement("div"),
      target: e.target
    });
    const t = e.className !== void 0 ? e.className : "ol-zoom", n = e.delta !== void 0 ? e.delta : 1, s = e.zoomInClassName !== void 0 ? e.zoomInClassName : t + "-in", r = e.zoomOutClassName !== void 0 ? e.zoomOutClassName : t + "-out", o = e.zoomInLabel !== void 0 ? e.zoomInLabel : "+", a = e.zoomOutLabel !== void 0 ? e.zoomOutLabel : "–", l = e.zoomInTipLabel !== void 0 ? e.zoomInTipLabel : "Zoom in", c = e.zoomOutTipLabel !== void 0 ? e.zoomOutTipLabel : "Zoom out", h = document.createElement("button");
    h.className = s, h.setAttribute("type", "button"), h.title = l, h.appendChild(
      typeof o == "string" ? document.createTextNode(o) : o
    ), h.addEventListener(
      Y.CLICK,
      this.handleClick_.bind(this, n),
      !1
    );
    const u = document.createElement("button");
    u.className = r, u.setAttribute("type", "button"), u.title = c, u.appendChild(
      typeof a == "string" ? document.createTextNode(a) : a
    ), u.addEventListener(
      Y.CLICK,
      this.handleClick_.bind(this, -n),
      !1
    );
    const d = t + " " + Vr + " " + Xa, f = this.element;
    f.className = d, f.appendChild(h), f.appendChild(u), this.duration_ = e.duration !== void 0 ? e.duration : 250;
  }
  /**
   * @param {number} delta Zoom delta.
   * @param {MouseEvent} event The event to handle
   * @private
   */
  handleClick_(e, t) {
    t.preventDefault(), this.zoomByDelta_(e);
  }
  /**
   * @param {number} delta Zoom delta.
   * @private
   */
  zoomByDelta_(e) {
    const n = this.getMap().getView();
    if (!n)
      return;
    const s = n.getZoom();
    if (s !== void 0) {
      const r = n.getConstrainedZoom(s + e);
      this.duration_ > 0 ? (n.getAnimating() && n.cancelAnimations(), n.animate({
        zoom: r,
        duration: this.duration_,
        easing: pt
      })) : n.setZoom(r);
    }
  }
}
function wm(i) {
  i = i || {};
  const e = new Ue();
  return (i.zoom === void 0 || i.zoom) && e.push(new gu(i.zoomOptions)), (i.rotate === void 0 || i.rotate) && e.push(new Rm(i.rotateOptions)), (i.attribution === void 0 || i.attribution) && e.push(new fu(i.attributionOptions)), e;
}
const ua = {
  ACTIVE: "active"
};
class Bs extends Wt {
  /**
   * @param {InteractionOptions} [options] Options.
   */
  constructor(e) {
    super(), this.on, this.once, this.un, e && e.handleEvent && (this.handleEvent = e.handleEvent), this.map_ = null, this.setActive(!0);
  }
  /**
   * Return whether the interaction is currently active.
   * @return {boolean} `true` if the interaction is active, `false` otherwise.
   * @observable
   * @api
   */
  getActive() {
    return (
      /** @type {boolean} */
      this.get(ua.ACTIVE)
    );
  }
  /**
   * Get the map associated with this interaction.
   * @return {import("../Map.js").default|null} Map.
   * @api
   */
  getMap() {
    return this.map_;
  }
  /**
   * Handles the {@link module:ol/MapBrowserEvent~MapBrowserEvent map browser event}.
   * @param {import("../MapBrowserEvent.js").default} mapBrowserEvent Map browser event.
   * @return {boolean} `false` to stop event propagation.
   * @api
   */
  handleEvent(e) {
    return !0;
  }
  /**
   * Activate or deactivate the interaction.
   * @param {boolean} active Active.
   * @observable
   * @api
   */
  setActive(e) {
    this.set(ua.ACTIVE, e);
  }
  /**
   * Remove the interaction from its current map and attach it to the new map.
   * Subclasses may set up event handlers to get notified about changes to
   * the map here.
   * @param {import("../Map.js").default|null} map Map.
   */
  setMap(e) {
    this.map_ = e;
  }
}
function Pm(i, e, t) {
  const n = i.getCenterInternal();
  if (n) {
    const s = [n[0] + e[0], n[1] + e[1]];
    i.animateInternal({
      duration: t !== void 0 ? t : 250,
      easing: lm,
      center: i.getConstrainedCenter(s)
    });
  }
}
function ol(i, e, t, n) {
  const s = i.getZoom();
  if (s === void 0)
    return;
  const r = i.getConstrainedZoom(s + e), o = i.getResolutionForZoom(r);
  i.getAnimating() && i.cancelAnimations(), i.animate({
    resolution: o,
    anchor: t,
    duration: n !== void 0 ? n : 250,
    easing: pt
  });
}
class Im extends Bs {
  /**
   * @param {Options} [options] Options.
   */
  constructor(e) {
    super(), e = e || {}, this.delta_ = e.delta ? e.delta : 1, this.duration_ = e.duration !== void 0 ? e.duration : 250;
  }
  /**
   * Handles the {@link module:ol/MapBrowserEvent~MapBrowserEvent map browser event} (if it was a
   * doubleclick) and eventually zooms the map.
   * @param {import("../MapBrowserEvent.js").default} mapBrowserEvent Map browser event.
   * @return {boolean} `false` to stop event propagation.
   * @override
   */
  handleEvent(e) {
    let t = !1;
    if (e.type == le.DBLCLICK) {
      const n = (
        /** @type {MouseEvent} */
        e.originalEvent
      ), s = e.map, r = e.coordinate, o = n.shiftKey ? -this.delta_ : this.delta_, a = s.getView();
      ol(a, o, r, this.duration_), n.preventDefault(), t = !0;
    }
    return !t;
  }
}
function da(i) {
  const e = arguments;
  return function(t) {
    let n = !0;
    for (let s = 0, r = e.length; s < r && (n = n && e[s](t), !!n); ++s)
      ;
    return n;
  };
}
const Am = function(i) {
  const e = i.originalEvent;
  return e.altKey && !(e.metaKey || e.ctrlKey) && !e.shiftKey;
}, Fm = function(i) {
  const e = i.originalEvent;
  return e.altKey && !(e.metaKey || e.ctrlKey) && e.shiftKey;
}, bm = function(i) {
  const e = i.map.getTargetElement(), t = e.getRootNode(), n = i.map.getOwnerDocument().activeElement;
  return t instanceof ShadowRoot ? t.host.contains(n) : e.contains(n);
}, _u = function(i) {
  const e = i.map.getTargetElement(), t = e.getRootNode();
  return (t instanceof ShadowRoot ? t.host : e).hasAttribute("tabindex") ? bm(i) : !0;
}, wr = zn, mu = function(i) {
  const e = i.originalEvent;
  return "pointerId" in e && e.button == 0 && !(rg && Nh && e.ctrlKey);
}, Lm = Ls, Mm = function(i) {
  return i.type == le.SINGLECLICK;
}, pu = function(i) {
  const e = (
    /** @type {KeyboardEvent|MouseEvent|TouchEvent} */
    i.originalEvent
  );
  return !e.altKey && !(e.metaKey || e.ctrlKey) && !e.shiftKey;
}, Dm = function(i) {
  const e = i.originalEvent;
  return Nh ? e.metaKey : e.ctrlKey;
}, Om = function(i) {
  const e = i.originalEvent;
  return !e.altKey && !(e.metaKey || e.ctrlKey) && e.shiftKey;
}, yu = function(i) {
  const e = i.originalEvent, t = (
    /** @type {Element} */
    e.target.tagName
  );
  return t !== "INPUT" && t !== "SELECT" && t !== "TEXTAREA" && // `isContentEditable` is only available on `HTMLElement`, but it may also be a
  // different type like `SVGElement`.
  // @ts-ignore
  !e.target.isContentEditable;
}, wo = function(i) {
  const e = i.originalEvent;
  return "pointerId" in e && e.pointerType == "mouse";
}, xu = function(i) {
  const e = i.originalEvent;
  return "pointerId" in e && e.isPrimary && e.button === 0;
};
class Kn extends Bs {
  /**
   * @param {Options} [options] Options.
   */
  constructor(e) {
    e = e || {}, super(
      /** @type {import("./Interaction.js").InteractionOptions} */
      e
    ), e.handleDownEvent && (this.handleDownEvent = e.handleDownEvent), e.handleDragEvent && (this.handleDragEvent = e.handleDragEvent), e.handleMoveEvent && (this.handleMoveEvent = e.handleMoveEvent), e.handleUpEvent && (this.handleUpEvent = e.handleUpEvent), e.stopDown && (this.stopDown = e.stopDown), this.handlingDownUpSequence = !1, this.targetPointers = [];
  }
  /**
   * Returns the current number of pointers involved in the interaction,
   * e.g. `2` when two fingers are used.
   * @return {number} The number of pointers.
   * @api
   */
  getPointerCount() {
    return this.targetPointers.length;
  }
  /**
   * Handle pointer down events.
   * @param {import("../MapBrowserEvent.js").default} mapBrowserEvent Event.
   * @return {boolean} If the event was consumed.
   * @protected
   */
  handleDownEvent(e) {
    return !1;
  }
  /**
   * Handle pointer drag events.
   * @param {import("../MapBrowserEvent.js").default} mapBrowserEvent Event.
   * @protected
   */
  handleDragEvent(e) {
  }
  /**
   * Handles the {@link module:ol/MapBrowserEvent~MapBrowserEvent map browser event} and may call into
   * other functions, if event sequences like e.g. 'drag' or 'down-up' etc. are
   * detected.
   * @param {import("../MapBrowserEvent.js").default} mapBrowserEvent Map browser event.
   * @return {boolean} `false` to stop event propagation.
   * @api
   * @override
   */
  handleEvent(e) {
    if (!e.originalEvent)
      return !0;
    let t = !1;
    if (this.updateTrackedPointers_(e), this.handlingDownUpSequence) {
      if (e.type == le.POINTERDRAG)
        this.handleDragEvent(e), e.originalEvent.preventDefault();
      else if (e.type == le.POINTERUP) {
        const n = this.handleUpEvent(e);
        this.handlingDownUpSequence = n && this.targetPointers.length > 0;
      }
    } else if (e.type == le.POINTERDOWN) {
      const n = this.handleDownEvent(e);
      this.handlingDownUpSequence = n, t = this.stopDown(n);
    } else e.type == le.POINTERMOVE && this.handleMoveEvent(e);
    return !t;
  }
  /**
   * Handle pointer move events.
   * @param {import("../MapBrowserEvent.js").default} mapBrowserEvent Event.
   * @protected
   */
  handleMoveEvent(e) {
  }
  /**
   * Handle pointer up events.
   * @param {import("../MapBrowserEvent.js").default} mapBrowserEvent Event.
   * @return {boolean} If the event was consumed.
   * @protected
   */
  handleUpEvent(e) {
    return !1;
  }
  /**
   * This function is used to determine if "down" events should be propagated
   * to other interactions or should be stopped.
   * @param {boolean} handled Was the event handled by the interaction?
   * @return {boolean} Should the `down` event be stopped?
   */
  stopDown(e) {
    return e;
  }
  /**
   * @param {import("../MapBrowserEvent.js").default} mapBrowserEvent Event.
   * @private
   */
  updateTrackedPointers_(e) {
    e.activePointers && (this.targetPointers = e.activePointers);
  }
}
function al(i) {
  const e = i.length;
  let t = 0, n = 0;
  for (let s = 0; s < e; s++)
    t += i[s].clientX, n += i[s].clientY;
  return { clientX: t / e, clientY: n / e };
}
class Nm extends Kn {
  /**
   * @param {Options} [options] Options.
   */
  constructor(e) {
    super({
      stopDown: Ls
    }), e = e || {}, this.kinetic_ = e.kinetic, this.lastCentroid = null, this.lastPointersCount_, this.panning_ = !1;
    const t = e.condition ? e.condition : da(pu, xu);
    this.condition_ = e.onFocusOnly ? da(_u, t) : t, this.noKinetic_ = !1;
  }
  /**
   * Handle pointer drag events.
   * @param {import("../MapBrowserEvent.js").default} mapBrowserEvent Event.
   * @override
   */
  handleDragEvent(e) {
    const t = e.map;
    this.panning_ || (this.panning_ = !0, t.getView().beginInteraction());
    const n = this.targetPointers, s = t.getEventPixel(al(n));
    if (n.length == this.lastPointersCount_) {
      if (this.kinetic_ && this.kinetic_.update(s[0], s[1]), this.lastCentroid) {
        const r = [
          this.lastCentroid[0] - s[0],
          s[1] - this.lastCentroid[1]
        ], a = e.map.getView();
        Cd(r, a.getResolution()), Ta(r, a.getRotation()), a.adjustCenterInternal(r);
      }
    } else this.kinetic_ && this.kinetic_.begin();
    this.lastCentroid = s, this.lastPointersCount_ = n.length, e.originalEvent.preventDefault();
  }
  /**
   * Handle pointer up events.
   * @param {import("../MapBrowserEvent.js").default} mapBrowserEvent Event.
   * @return {boolean} If the event was consumed.
   * @override
   */
  handleUpEvent(e) {
    const t = e.map, n = t.getView();
    if (this.targetPointers.length === 0) {
      if (!this.noKinetic_ && this.kinetic_ && this.kinetic_.end()) {
        const s = this.kinetic_.getDistance(), r = this.kinetic_.getAngle(), o = n.getCenterInternal(), a = t.getPixelFromCoordinateInternal(o), l = t.getCoordinateFromPixelInternal([
          a[0] - s * Math.cos(r),
          a[1] - s * Math.sin(r)
        ]);
        n.animateInternal({
          center: n.getConstrainedCenter(l),
          duration: 500,
          easing: pt
        });
      }
      return this.panning_ && (this.panning_ = !1, n.endInteraction()), !1;
    }
    return this.kinetic_ && this.kinetic_.begin(), this.lastCentroid = null, !0;
  }
  /**
   * Handle pointer down events.
   * @param {import("../MapBrowserEvent.js").default} mapBrowserEvent Event.
   * @return {boolean} If the event was consumed.
   * @override
   */
  handleDownEvent(e) {
    if (this.targetPointers.length > 0 && this.condition_(e)) {
      const n = e.map.getView();
      return this.lastCentroid = null, n.getAnimating() && n.cancelAnimations(), this.kinetic_ && this.kinetic_.begin(), this.noKinetic_ = this.targetPointers.length > 1, !0;
    }
    return !1;
  }
}
class km extends Kn {
  /**
   * @param {Options} [options] Options.
   */
  constructor(e) {
    e = e || {}, super({
      stopDown: Ls
    }), this.condition_ = e.condition ? e.condition : Fm, this.lastAngle_ = void 0, this.duration_ = e.duration !== void 0 ? e.duration : 250;
  }
  /**
   * Handle pointer drag events.
   * @param {import("../MapBrowserEvent.js").default} mapBrowserEvent Event.
   * @override
   */
  handleDragEvent(e) {
    if (!wo(e))
      return;
    const t = e.map, n = t.getView();
    if (n.getConstraints().rotation === el)
      return;
    const s = t.getSize(), r = e.pixel, o = Math.atan2(s[1] / 2 - r[1], r[0] - s[0] / 2);
    if (this.lastAngle_ !== void 0) {
      const a = o - this.lastAngle_;
      n.adjustRotationInternal(-a);
    }
    this.lastAngle_ = o;
  }
  /**
   * Handle pointer up events.
   * @param {import("../MapBrowserEvent.js").default} mapBrowserEvent Event.
   * @return {boolean} If the event was consumed.
   * @override
   */
  handleUpEvent(e) {
    return wo(e) ? (e.map.getView().endInteraction(this.duration_), !1) : !0;
  }
  /**
   * Handle pointer down events.
   * @param {import("../MapBrowserEvent.js").default} mapBrowserEvent Event.
   * @return {boolean} If the event was consumed.
   * @override
   */
  handleDownEvent(e) {
    return wo(e) && mu(e) && this.condition_(e) ? (e.map.getView().beginInteraction(), this.lastAngle_ = void 0, !0) : !1;
  }
}
class Gm extends bs {
  /**
   * @param {string} className CSS class name.
   */
  constructor(e) {
    super(), this.geometry_ = null, this.element_ = document.createElement("div"), this.element_.style.position = "absolute", this.element_.style.pointerEvents = "auto", this.element_.className = "ol-box " + e, this.map_ = null, this.startPixel_ = null, this.endPixel_ = null;
  }
  /**
   * Clean up.
   * @override
   */
  disposeInternal() {
    this.setMap(null);
  }
  /**
   * @private
   */
  render_() {
    const e = this.startPixel_, t = this.endPixel_, n = "px", s = this.element_.style;
    s.left = Math.min(e[0], t[0]) + n, s.top = Math.min(e[1], t[1]) + n, s.width = Math.abs(t[0] - e[0]) + n, s.height = Math.abs(t[1] - e[1]) + n;
  }
  /**
   * @param {import("../Map.js").default|null} map Map.
   */
  setMap(e) {
    if (this.map_) {
      this.map_.getOverlayContainer().removeChild(this.element_);
      const t = this.element_.style;
      t.left = "inherit", t.top = "inherit", t.width = "inherit", t.height = "inherit";
    }
    this.map_ = e, this.map_ && this.map_.getOverlayContainer().appendChild(this.element_);
  }
  /**
   * @param {import("../pixel.js").Pixel} startPixel Start pixel.
   * @param {import("../pixel.js").Pixel} endPixel End pixel.
   */
  setPixels(e, t) {
    this.startPixel_ = e, this.endPixel_ = t, this.createOrUpdateGeometry(), this.render_();
  }
  /**
   * Creates or updates the cached geometry.
   */
  createOrUpdateGeometry() {
    if (!this.map_)
      return;
    const e = this.startPixel_, t = this.endPixel_, s = [
      e,
      [e[0], t[1]],
      t,
      [t[0], e[1]]
    ].map(
      this.map_.getCoordinateFromPixelInternal,
      this.map_
    );
    s[4] = s[0].slice(), this.geometry_ ? this.geometry_.setCoordinates([s]) : this.geometry_ = new rt([s]);
  }
  /**
   * @return {import("../geom/Polygon.js").default} Geometry.
   */
  getGeometry() {
    return this.geometry_;
  }
}
const si = {
  /**
   * Triggered upon drag box start.
   * @event DragBoxEvent#boxstart
   * @api
   */
  BOXSTART: "boxstart",
  /**
   * Triggered on drag when box is active.
   * @event DragBoxEvent#boxdrag
   * @api
   */
  BOXDRAG: "boxdrag",
  /**
   * Triggered upon drag box end.
   * @event DragBoxEvent#boxend
   * @api
   */
  BOXEND: "boxend",
  /**
   * Triggered upon drag box canceled.
   * @event DragBoxEvent#boxcancel
   * @api
   */
  BOXCANCEL: "boxcancel"
};
class Vi extends At {
  /**
   * @param {string} type The event type.
   * @param {import("../coordinate.js").Coordinate} coordinate The event coordinate.
   * @param {import("../MapBrowserEvent.js").default} mapBrowserEvent Originating event.
   */
  constructor(e, t, n) {
    super(e), this.coordinate = t, this.mapBrowserEvent = n;
  }
}
class Bm extends Kn {
  /**
   * @param {Options} [options] Options.
   */
  constructor(e) {
    super(), this.on, this.once, this.un, e = e ?? {}, this.box_ = new Gm(e.className || "ol-dragbox"), this.minArea_ = e.minArea ?? 64, e.onBoxEnd && (this.onBoxEnd = e.onBoxEnd), this.startPixel_ = null, this.condition_ = e.condition ?? mu, this.boxEndCondition_ = e.boxEndCondition ?? this.defaultBoxEndCondition;
  }
  /**
   * The default condition for determining whether the boxend event
   * should fire.
   * @param {import("../MapBrowserEvent.js").default} mapBrowserEvent The originating MapBrowserEvent
   *     leading to the box end.
   * @param {import("../pixel.js").Pixel} startPixel The starting pixel of the box.
   * @param {import("../pixel.js").Pixel} endPixel The end pixel of the box.
   * @return {boolean} Whether or not the boxend condition should be fired.
   */
  defaultBoxEndCondition(e, t, n) {
    const s = n[0] - t[0], r = n[1] - t[1];
    return s * s + r * r >= this.minArea_;
  }
  /**
   * Returns geometry of last drawn box.
   * @return {import("../geom/Polygon.js").default} Geometry.
   * @api
   */
  getGeometry() {
    return this.box_.getGeometry();
  }
  /**
   * Handle pointer drag events.
   * @param {import("../MapBrowserEvent.js").default} mapBrowserEvent Event.
   * @override
   */
  handleDragEvent(e) {
    this.startPixel_ && (this.box_.setPixels(this.startPixel_, e.pixel), this.dispatchEvent(
      new Vi(
        si.BOXDRAG,
        e.coordinate,
        e
      )
    ));
  }
  /**
   * Handle pointer up events.
   * @param {import("../MapBrowserEvent.js").default} mapBrowserEvent Event.
   * @return {boolean} If the event was consumed.
   * @override
   */
  handleUpEvent(e) {
    if (!this.startPixel_)
      return !1;
    const t = this.boxEndCondition_(
      e,
      this.startPixel_,
      e.pixel
    );
    return t && this.onBoxEnd(e), this.dispatchEvent(
      new Vi(
        t ? si.BOXEND : si.BOXCANCEL,
        e.coordinate,
        e
      )
    ), this.box_.setMap(null), this.startPixel_ = null, !1;
  }
  /**
   * Handle pointer down events.
   * @param {import("../MapBrowserEvent.js").default} mapBrowserEvent Event.
   * @return {boolean} If the event was consumed.
   * @override
   */
  handleDownEvent(e) {
    return this.condition_(e) ? (this.startPixel_ = e.pixel, this.box_.setMap(e.map), this.box_.setPixels(this.startPixel_, this.startPixel_), this.dispatchEvent(
      new Vi(
        si.BOXSTART,
        e.coordinate,
        e
      )
    ), !0) : !1;
  }
  /**
   * Function to execute just before `onboxend` is fired
   * @param {import("../MapBrowserEvent.js").default} event Event.
   */
  onBoxEnd(e) {
  }
  /**
   * Activate or deactivate the interaction.
   * @param {boolean} active Active.
   * @observable
   * @api
   * @override
   */
  setActive(e) {
    e || (this.box_.setMap(null), this.startPixel_ && (this.dispatchEvent(
      new Vi(si.BOXCANCEL, this.startPixel_, null)
    ), this.startPixel_ = null)), super.setActive(e);
  }
  /**
   * @param {import("../Map.js").default|null} map Map.
   * @override
   */
  setMap(e) {
    this.getMap() && (this.box_.setMap(null), this.startPixel_ && (this.dispatchEvent(
      new Vi(si.BOXCANCEL, this.startPixel_, null)
    ), this.startPixel_ = null)), super.setMap(e);
  }
}
class Um extends Bm {
  /**
   * @param {Options} [options] Options.
   */
  constructor(e) {
    e = e || {};
    const t = e.condition ? e.condition : Om;
    super({
      condition: t,
      className: e.className || "ol-dragzoom",
      minArea: e.minArea
    }), this.duration_ = e.duration !== void 0 ? e.duration : 200, this.out_ = e.out !== void 0 ? e.out : !1;
  }
  /**
   * Function to execute just before `onboxend` is fired
   * @param {import("../MapBrowserEvent.js").default} event Event.
   * @override
   */
  onBoxEnd(e) {
    const n = (
      /** @type {!import("../View.js").default} */
      this.getMap().getView()
    );
    let s = this.getGeometry();
    if (this.out_) {
      const r = n.rotatedExtentForGeometry(s), o = n.getResolutionForExtentInternal(r), a = n.getResolution() / o;
      s = s.clone(), s.scale(a * a);
    }
    n.fitInternal(s, {
      duration: this.duration_,
      easing: pt
    });
  }
}
const In = {
  LEFT: "ArrowLeft",
  UP: "ArrowUp",
  RIGHT: "ArrowRight",
  DOWN: "ArrowDown"
};
class zm extends Bs {
  /**
   * @param {Options} [options] Options.
   */
  constructor(e) {
    super(), e = e || {}, this.defaultCondition_ = function(t) {
      return pu(t) && yu(t);
    }, this.condition_ = e.condition !== void 0 ? e.condition : this.defaultCondition_, this.duration_ = e.duration !== void 0 ? e.duration : 100, this.pixelDelta_ = e.pixelDelta !== void 0 ? e.pixelDelta : 128;
  }
  /**
   * Handles the {@link module:ol/MapBrowserEvent~MapBrowserEvent map browser event} if it was a
   * `KeyEvent`, and decides the direction to pan to (if an arrow key was
   * pressed).
   * @param {import("../MapBrowserEvent.js").default} mapBrowserEvent Map browser event.
   * @return {boolean} `false` to stop event propagation.
   * @override
   */
  handleEvent(e) {
    let t = !1;
    if (e.type == Y.KEYDOWN) {
      const n = (
        /** @type {KeyboardEvent} */
        e.originalEvent
      ), s = n.key;
      if (this.condition_(e) && (s == In.DOWN || s == In.LEFT || s == In.RIGHT || s == In.UP)) {
        const o = e.map.getView(), a = o.getResolution() * this.pixelDelta_;
        let l = 0, c = 0;
        s == In.DOWN ? c = -a : s == In.LEFT ? l = -a : s == In.RIGHT ? l = a : c = a;
        const h = [l, c];
        Ta(h, o.getRotation()), Pm(o, h, this.duration_), n.preventDefault(), t = !0;
      }
    }
    return !t;
  }
}
class $m extends Bs {
  /**
   * @param {Options} [options] Options.
   */
  constructor(e) {
    super(), e = e || {}, this.condition_ = e.condition ? e.condition : function(t) {
      return !Dm(t) && yu(t);
    }, this.delta_ = e.delta ? e.delta : 1, this.duration_ = e.duration !== void 0 ? e.duration : 100;
  }
  /**
   * Handles the {@link module:ol/MapBrowserEvent~MapBrowserEvent map browser event} if it was a
   * `KeyEvent`, and decides whether to zoom in or out (depending on whether the
   * key pressed was '+' or '-').
   * @param {import("../MapBrowserEvent.js").default} mapBrowserEvent Map browser event.
   * @return {boolean} `false` to stop event propagation.
   * @override
   */
  handleEvent(e) {
    let t = !1;
    if (e.type == Y.KEYDOWN || e.type == Y.KEYPRESS) {
      const n = (
        /** @type {KeyboardEvent} */
        e.originalEvent
      ), s = n.key;
      if (this.condition_(e) && (s === "+" || s === "-")) {
        const r = e.map, o = s === "+" ? this.delta_ : -this.delta_, a = r.getView();
        ol(a, o, void 0, this.duration_), n.preventDefault(), t = !0;
      }
    }
    return !t;
  }
}
const Wm = 40, Vm = 300;
class Xm extends Bs {
  /**
   * @param {Options} [options] Options.
   */
  constructor(e) {
    e = e || {}, super(
      /** @type {import("./Interaction.js").InteractionOptions} */
      e
    ), this.totalDelta_ = 0, this.lastDelta_ = 0, this.maxDelta_ = e.maxDelta !== void 0 ? e.maxDelta : 1, this.duration_ = e.duration !== void 0 ? e.duration : 250, this.timeout_ = e.timeout !== void 0 ? e.timeout : 80, this.useAnchor_ = e.useAnchor !== void 0 ? e.useAnchor : !0, this.constrainResolution_ = e.constrainResolution !== void 0 ? e.constrainResolution : !1;
    const t = e.condition ? e.condition : wr;
    this.condition_ = e.onFocusOnly ? da(_u, t) : t, this.lastAnchor_ = null, this.startTime_ = void 0, this.timeoutId_, this.mode_ = void 0, this.trackpadEventGap_ = 400, this.trackpadTimeoutId_, this.deltaPerZoom_ = 300;
  }
  /**
   * @private
   */
  endInteraction_() {
    this.trackpadTimeoutId_ = void 0;
    const e = this.getMap();
    if (!e)
      return;
    e.getView().endInteraction(
      void 0,
      this.lastDelta_ ? this.lastDelta_ > 0 ? 1 : -1 : 0,
      this.lastAnchor_ ? e.getCoordinateFromPixel(this.lastAnchor_) : null
    );
  }
  /**
   * Handles the {@link module:ol/MapBrowserEvent~MapBrowserEvent map browser event} (if it was a mousewheel-event) and eventually
   * zooms the map.
   * @param {import("../MapBrowserEvent.js").default} mapBrowserEvent Map browser event.
   * @return {boolean} `false` to stop event propagation.
   * @override
   */
  handleEvent(e) {
    if (!this.condition_(e) || e.type !== Y.WHEEL)
      return !0;
    const n = e.map, s = (
      /** @type {WheelEvent} */
      e.originalEvent
    );
    s.preventDefault(), this.useAnchor_ && (this.lastAnchor_ = e.pixel);
    let r = s.deltaY;
    switch (s.deltaMode) {
      case WheelEvent.DOM_DELTA_LINE:
        r *= Wm;
        break;
      case WheelEvent.DOM_DELTA_PAGE:
        r *= Vm;
        break;
    }
    if (r === 0)
      return !1;
    this.lastDelta_ = r;
    const o = Date.now();
    this.startTime_ === void 0 && (this.startTime_ = o), (!this.mode_ || o - this.startTime_ > this.trackpadEventGap_) && (this.mode_ = Math.abs(r) < 4 ? "trackpad" : "wheel");
    const a = n.getView();
    if (this.mode_ === "trackpad" && !(a.getConstrainResolution() || this.constrainResolution_))
      return this.trackpadTimeoutId_ ? clearTimeout(this.trackpadTimeoutId_) : (a.getAnimating() && a.cancelAnimations(), a.beginInteraction()), this.trackpadTimeoutId_ = setTimeout(
        this.endInteraction_.bind(this),
        this.timeout_
      ), a.adjustZoom(
        -r / this.deltaPerZoom_,
        this.lastAnchor_ ? n.getCoordinateFromPixel(this.lastAnchor_) : null
      ), this.startTime_ = o, !1;
    this.totalDelta_ += r;
    const l = Math.max(this.timeout_ - (o - this.startTime_), 0);
    return clearTimeout(this.timeoutId_), this.timeoutId_ = setTimeout(
      this.handleWheelZoom_.bind(this, n),
      l
    ), !1;
  }
  /**
   * @private
   * @param {import("../Map.js").default} map Map.
   */
  handleWheelZoom_(e) {
    const t = e.getView();
    t.getAnimating() && t.cancelAnimations();
    let n = -de(
      this.totalDelta_,
      -this.maxDelta_ * this.deltaPerZoom_,
      this.maxDelta_ * this.deltaPerZoom_
    ) / this.deltaPerZoom_;
    (t.getConstrainResolution() || this.constrainResolution_) && (n = n ? n > 0 ? 1 : -1 : 0), ol(
      t,
      n,
      this.lastAnchor_ ? e.getCoordinateFromPixel(this.lastAnchor_) : null,
      this.duration_
    ), this.mode_ = void 0, this.totalDelta_ = 0, this.lastAnchor_ = null, this.startTime_ = void 0, this.timeoutId_ = void 0;
  }
  /**
   * Enable or disable using the mouse's location as an anchor when zooming
   * @param {boolean} useAnchor true to zoom to the mouse's location, false
   * to zoom to the center of the map
   * @api
   */
  setMouseAnchor(e) {
    this.useAnchor_ = e, e || (this.lastAnchor_ = null);
  }
}
class jm extends Kn {
  /**
   * @param {Options} [options] Options.
   */
  constructor(e) {
    e = e || {};
    const t = (
      /** @type {import("./Pointer.js").Options} */
      e
    );
    t.stopDown || (t.stopDown = Ls), super(t), this.anchor_ = null, this.lastAngle_ = void 0, this.rotating_ = !1, this.rotationDelta_ = 0, this.threshold_ = e.threshold !== void 0 ? e.threshold : 0.3, this.duration_ = e.duration !== void 0 ? e.duration : 250;
  }
  /**
   * Handle pointer drag events.
   * @param {import("../MapBrowserEvent.js").default} mapBrowserEvent Event.
   * @override
   */
  handleDragEvent(e) {
    let t = 0;
    const n = this.targetPointers[0], s = this.targetPointers[1], r = Math.atan2(
      s.clientY - n.clientY,
      s.clientX - n.clientX
    );
    if (this.lastAngle_ !== void 0) {
      const l = r - this.lastAngle_;
      this.rotationDelta_ += l, !this.rotating_ && Math.abs(this.rotationDelta_) > this.threshold_ && (this.rotating_ = !0), t = l;
    }
    this.lastAngle_ = r;
    const o = e.map, a = o.getView();
    a.getConstraints().rotation !== el && (this.anchor_ = o.getCoordinateFromPixelInternal(
      o.getEventPixel(al(this.targetPointers))
    ), this.rotating_ && (o.render(), a.adjustRotationInternal(t, this.anchor_)));
  }
  /**
   * Handle pointer up events.
   * @param {import("../MapBrowserEvent.js").default} mapBrowserEvent Event.
   * @return {boolean} If the event was consumed.
   * @override
   */
  handleUpEvent(e) {
    return this.targetPointers.length < 2 ? (e.map.getView().endInteraction(this.duration_), !1) : !0;
  }
  /**
   * Handle pointer down events.
   * @param {import("../MapBrowserEvent.js").default} mapBrowserEvent Event.
   * @return {boolean} If the event was consumed.
   * @override
   */
  handleDownEvent(e) {
    if (this.targetPointers.length >= 2) {
      const t = e.map;
      return this.anchor_ = null, this.lastAngle_ = void 0, this.rotating_ = !1, this.rotationDelta_ = 0, this.handlingDownUpSequence || t.getView().beginInteraction(), !0;
    }
    return !1;
  }
}
class Ym extends Kn {
  /**
   * @param {Options} [options] Options.
   */
  constructor(e) {
    e = e || {};
    const t = (
      /** @type {import("./Pointer.js").Options} */
      e
    );
    t.stopDown || (t.stopDown = Ls), super(t), this.anchor_ = null, this.duration_ = e.duration !== void 0 ? e.duration : 400, this.lastDistance_ = void 0, this.lastScaleDelta_ = 1;
  }
  /**
   * Handle pointer drag events.
   * @param {import("../MapBrowserEvent.js").default} mapBrowserEvent Event.
   * @override
   */
  handleDragEvent(e) {
    let t = 1;
    const n = this.targetPointers[0], s = this.targetPointers[1], r = n.clientX - s.clientX, o = n.clientY - s.clientY, a = Math.sqrt(r * r + o * o);
    this.lastDistance_ !== void 0 && (t = this.lastDistance_ / a), this.lastDistance_ = a;
    const l = e.map, c = l.getView();
    t != 1 && (this.lastScaleDelta_ = t), this.anchor_ = l.getCoordinateFromPixelInternal(
      l.getEventPixel(al(this.targetPointers))
    ), l.render(), c.adjustResolutionInternal(t, this.anchor_);
  }
  /**
   * Handle pointer up events.
   * @param {import("../MapBrowserEvent.js").default} mapBrowserEvent Event.
   * @return {boolean} If the event was consumed.
   * @override
   */
  handleUpEvent(e) {
    if (this.targetPointers.length < 2) {
      const n = e.map.getView(), s = this.lastScaleDelta_ > 1 ? 1 : -1;
      return n.endInteraction(this.duration_, s), !1;
    }
    return !0;
  }
  /**
   * Handle pointer down events.
   * @param {import("../MapBrowserEvent.js").default} mapBrowserEvent Event.
   * @return {boolean} If the event was consumed.
   * @override
   */
  handleDownEvent(e) {
    if (this.targetPointers.length >= 2) {
      const t = e.map;
      return this.anchor_ = null, this.lastDistance_ = void 0, this.lastScaleDelta_ = 1, this.handlingDownUpSequence || t.getView().beginInteraction(), !0;
    }
    return !1;
  }
}
function Eu(i) {
  i = i || {};
  const e = new Ue(), t = new Em(-5e-3, 0.05, 100);
  return (i.altShiftDragRotate === void 0 || i.altShiftDragRotate) && e.push(new km()), (i.doubleClickZoom === void 0 || i.doubleClickZoom) && e.push(
    new Im({
      delta: i.zoomDelta,
      duration: i.zoomDuration
    })
  ), (i.dragPan === void 0 || i.dragPan) && e.push(
    new Nm({
      onFocusOnly: i.onFocusOnly,
      kinetic: t
    })
  ), (i.pinchRotate === void 0 || i.pinchRotate) && e.push(new jm()), (i.pinchZoom === void 0 || i.pinchZoom) && e.push(
    new Ym({
      duration: i.zoomDuration
    })
  ), (i.keyboard === void 0 || i.keyboard) && (e.push(new zm()), e.push(
    new $m({
      delta: i.zoomDelta,
      duration: i.zoomDuration
    })
  )), (i.mouseWheelZoom === void 0 || i.mouseWheelZoom) && e.push(
    new Xm({
      onFocusOnly: i.onFocusOnly,
      duration: i.zoomDuration
    })
  ), (i.shiftDragZoom === void 0 || i.shiftDragZoom) && e.push(
    new Um({
      duration: i.zoomDuration
    })
  ), e;
}
const un = {
  /**
   * Triggered when a layer is added
   * @event GroupEvent#addlayer
   * @api
   */
  ADDLAYER: "addlayer",
  /**
   * Triggered when a layer is removed
   * @event GroupEvent#removelayer
   * @api
   */
  REMOVELAYER: "removelayer"
};
class mn extends At {
  /**
   * @param {GroupEventType} type The event type.
   * @param {BaseLayer} layer The layer.
   */
  constructor(e, t) {
    super(e), this.layer = t;
  }
}
const Po = {
  LAYERS: "layers"
};
class Di extends uu {
  /**
   * @param {Options} [options] Layer options.
   */
  constructor(e) {
    e = e || {};
    const t = (
      /** @type {Options} */
      Object.assign({}, e)
    );
    delete t.layers;
    let n = e.layers;
    super(t), this.on, this.once, this.un, this.layersListenerKeys_ = [], this.listenerKeys_ = {}, this.addChangeListener(Po.LAYERS, this.handleLayersChanged_), n ? Array.isArray(n) ? n = new Ue(n.slice(), { unique: !0 }) : ie(
      typeof /** @type {?} */
      n.getArray == "function",
      "Expected `layers` to be an array or a `Collection`"
    ) : n = new Ue(void 0, { unique: !0 }), this.setLayers(n);
  }
  /**
   * @private
   */
  handleLayerChange_() {
    this.changed();
  }
  /**
   * @private
   */
  handleLayersChanged_() {
    this.layersListenerKeys_.forEach(ce), this.layersListenerKeys_.length = 0;
    const e = this.getLayers();
    this.layersListenerKeys_.push(
      ne(e, $e.ADD, this.handleLayersAdd_, this),
      ne(
        e,
        $e.REMOVE,
        this.handleLayersRemove_,
        this
      )
    );
    for (const n in this.listenerKeys_)
      this.listenerKeys_[n].forEach(ce);
    Mi(this.listenerKeys_);
    const t = e.getArray();
    for (let n = 0, s = t.length; n < s; n++) {
      const r = t[n];
      this.registerLayerListeners_(r), this.dispatchEvent(new mn(un.ADDLAYER, r));
    }
    this.changed();
  }
  /**
   * @param {BaseLayer} layer The layer.
   */
  registerLayerListeners_(e) {
    const t = [
      ne(
        e,
        Ii.PROPERTYCHANGE,
        this.handleLayerChange_,
        this
      ),
      ne(e, Y.CHANGE, this.handleLayerChange_, this)
    ];
    e instanceof Di && t.push(
      ne(e, un.ADDLAYER, this.handleLayerGroupAdd_, this),
      ne(
        e,
        un.REMOVELAYER,
        this.handleLayerGroupRemove_,
        this
      )
    ), this.listenerKeys_[z(e)] = t;
  }
  /**
   * @param {GroupEvent} event The layer group event.
   */
  handleLayerGroupAdd_(e) {
    this.dispatchEvent(new mn(un.ADDLAYER, e.layer));
  }
  /**
   * @param {GroupEvent} event The layer group event.
   */
  handleLayerGroupRemove_(e) {
    this.dispatchEvent(new mn(un.REMOVELAYER, e.layer));
  }
  /**
   * @param {import("../Collection.js").CollectionEvent<import("./Base.js").default>} collectionEvent CollectionEvent.
   * @private
   */
  handleLayersAdd_(e) {
    const t = e.element;
    this.registerLayerListeners_(t), this.dispatchEvent(new mn(un.ADDLAYER, t)), this.changed();
  }
  /**
   * @param {import("../Collection.js").CollectionEvent<import("./Base.js").default>} collectionEvent CollectionEvent.
   * @private
   */
  handleLayersRemove_(e) {
    const t = e.element, n = z(t);
    this.listenerKeys_[n].forEach(ce), delete this.listenerKeys_[n], this.dispatchEvent(new mn(un.REMOVELAYER, t)), this.changed();
  }
  /**
   * Returns the {@link module:ol/Collection~Collection collection} of {@link module:ol/layer/Layer~Layer layers}
   * in this group.
   * @return {!Collection<import("./Base.js").default>} Collection of
   *   {@link module:ol/layer/Base~BaseLayer layers} that are part of this group.
   * @observable
   * @api
   */
  getLayers() {
    return (
      /** @type {!Collection<import("./Base.js").default>} */
      this.get(Po.LAYERS)
    );
  }
  /**
   * Set the {@link module:ol/Collection~Collection collection} of {@link module:ol/layer/Layer~Layer layers}
   * in this group.
   * @param {!Collection<import("./Base.js").default>} layers Collection of
   *   {@link module:ol/layer/Base~BaseLayer layers} that are part of this group.
   * @observable
   * @api
   */
  setLayers(e) {
    const t = this.getLayers();
    if (t) {
      const n = t.getArray();
      for (let s = 0, r = n.length; s < r; ++s)
        this.dispatchEvent(
          new mn(un.REMOVELAYER, n[s])
        );
    }
    this.set(Po.LAYERS, e);
  }
  /**
   * @param {Array<import("./Layer.js").default>} [array] Array of layers (to be modified in place).
   * @return {Array<import("./Layer.js").default>} Array of layers.
   * @override
   */
  getLayersArray(e) {
    return e = e !== void 0 ? e : [], this.getLayers().forEach(function(t) {
      t.getLayersArray(e);
    }), e;
  }
  /**
   * Get the layer states list and use this groups z-index as the default
   * for all layers in this and nested groups, if it is unset at this point.
   * If dest is not provided and this group's z-index is undefined
   * 0 is used a the default z-index.
   * @param {Array<import("./Layer.js").State>} [dest] Optional list
   * of layer states (to be modified in place).
   * @return {Array<import("./Layer.js").State>} List of layer states.
   * @override
   */
  getLayerStatesArray(e) {
    const t = e !== void 0 ? e : [], n = t.length;
    this.getLayers().forEach(function(o) {
      o.getLayerStatesArray(t);
    });
    const s = this.getLayerState();
    let r = s.zIndex;
    !e && s.zIndex === void 0 && (r = 0);
    for (let o = n, a = t.length; o < a; o++) {
      const l = t[o];
      l.opacity *= s.opacity, l.visible = l.visible && s.visible, l.maxResolution = Math.min(
        l.maxResolution,
        s.maxResolution
      ), l.minResolution = Math.max(
        l.minResolution,
        s.minResolution
      ), l.minZoom = Math.max(l.minZoom, s.minZoom), l.maxZoom = Math.min(l.maxZoom, s.maxZoom), s.extent !== void 0 && (l.extent !== void 0 ? l.extent = Nn(
        l.extent,
        s.extent
      ) : l.extent = s.extent), l.zIndex === void 0 && (l.zIndex = r);
    }
    return t;
  }
  /**
   * @return {import("../source/Source.js").State} Source state.
   * @override
   */
  getSourceState() {
    return "ready";
  }
}
class Zm extends bs {
  /**
   * @param {import("../Map.js").default} map Map.
   */
  constructor(e) {
    super(), this.map_ = e;
  }
  /**
   * @abstract
   * @param {import("../render/EventType.js").default} type Event type.
   * @param {import("../Map.js").FrameState} frameState Frame state.
   */
  dispatchRenderEvent(e, t) {
    X();
  }
  /**
   * @param {import("../Map.js").FrameState} frameState FrameState.
   * @protected
   */
  calculateMatrices2D(e) {
    const t = e.viewState, n = e.coordinateToPixelTransform, s = e.pixelToCoordinateTransform;
    wt(
      n,
      e.size[0] / 2,
      e.size[1] / 2,
      1 / t.resolution,
      -1 / t.resolution,
      -t.rotation,
      -t.center[0],
      -t.center[1]
    ), ds(s, n);
  }
  /**
   * @param {import("../coordinate.js").Coordinate} coordinate Coordinate.
   * @param {import("../Map.js").FrameState} frameState FrameState.
   * @param {number} hitTolerance Hit tolerance in pixels.
   * @param {boolean} checkWrapped Check for wrapped geometries.
   * @param {import("./vector.js").FeatureCallback<T>} callback Feature callback.
   * @param {S} thisArg Value to use as `this` when executing `callback`.
   * @param {function(this: U, import("../layer/Layer.js").default): boolean} layerFilter Layer filter
   *     function, only layers which are visible and for which this function
   *     returns `true` will be tested for features.  By default, all visible
   *     layers will be tested.
   * @param {U} thisArg2 Value to use as `this` when executing `layerFilter`.
   * @return {T|undefined} Callback result.
   * @template S,T,U
   */
  forEachFeatureAtCoordinate(e, t, n, s, r, o, a, l) {
    let c;
    const h = t.viewState;
    function u(E, y, T, S) {
      return r.call(o, y, E ? T : null, S);
    }
    const d = h.projection, f = fh(e.slice(), d), g = [[0, 0]];
    if (d.canWrapX() && s) {
      const E = d.getExtent(), y = ae(E);
      g.push([-y, 0], [y, 0]);
    }
    const m = t.layerStatesArray, _ = m.length, p = (
      /** @type {Array<HitMatch<T>>} */
      []
    ), x = [];
    for (let E = 0; E < g.length; E++)
      for (let y = _ - 1; y >= 0; --y) {
        const T = m[y], S = T.layer;
        if (S.hasRenderer() && nl(T, h) && a.call(l, S)) {
          const w = S.getRenderer(), P = S.getSource();
          if (w && P) {
            const M = P.getWrapX() ? f : e, U = u.bind(
              null,
              T.managed
            );
            x[0] = M[0] + g[E][0], x[1] = M[1] + g[E][1], c = w.forEachFeatureAtCoordinate(
              x,
              t,
              n,
              U,
              p
            );
          }
          if (c)
            return c;
        }
      }
    if (p.length === 0)
      return;
    const v = 1 / p.length;
    return p.forEach((E, y) => E.distanceSq += y * v), p.sort((E, y) => E.distanceSq - y.distanceSq), p.some((E) => c = E.callback(E.feature, E.layer, E.geometry)), c;
  }
  /**
   * @param {import("../coordinate.js").Coordinate} coordinate Coordinate.
   * @param {import("../Map.js").FrameState} frameState FrameState.
   * @param {number} hitTolerance Hit tolerance in pixels.
   * @param {boolean} checkWrapped Check for wrapped geometries.
   * @param {function(this: U, import("../layer/Layer.js").default): boolean} layerFilter Layer filter
   *     function, only layers which are visible and for which this function
   *     returns `true` will be tested for features.  By default, all visible
   *     layers will be tested.
   * @param {U} thisArg Value to use as `this` when executing `layerFilter`.
   * @return {boolean} Is there a feature at the given coordinate?
   * @template U
   */
  hasFeatureAtCoordinate(e, t, n, s, r, o) {
    return this.forEachFeatureAtCoordinate(
      e,
      t,
      n,
      s,
      zn,
      this,
      r,
      o
    ) !== void 0;
  }
  /**
   * @return {import("../Map.js").default} Map.
   */
  getMap() {
    return this.map_;
  }
  /**
   * Render.
   * @abstract
   * @param {?import("../Map.js").FrameState} frameState Frame state.
   */
  renderFrame(e) {
    X();
  }
  /**
   * @param {import("../Map.js").FrameState} frameState Frame state.
   * @protected
   */
  scheduleExpireIconCache(e) {
    ht.canExpireCache() && e.postRenderFunctions.push(Km);
  }
}
function Km(i, e) {
  ht.expire();
}
class Hm extends Zm {
  /**
   * @param {import("../Map.js").default} map Map.
   */
  constructor(e) {
    super(e), this.fontChangeListenerKey_ = ne(
      ui,
      Ii.PROPERTYCHANGE,
      e.redrawText,
      e
    ), this.element_ = ct ? Bh() : document.createElement("div");
    const t = this.element_.style;
    t.position = "absolute", t.width = "100%", t.height = "100%", t.zIndex = "0", this.element_.className = Vr + " ol-layers";
    const n = e.getViewport();
    n && n.insertBefore(this.element_, n.firstChild || null), this.children_ = [], this.renderedVisible_ = !0;
  }
  /**
   * @param {import("../render/EventType.js").default} type Event type.
   * @param {import("../Map.js").FrameState} frameState Frame state.
   * @override
   */
  dispatchRenderEvent(e, t) {
    const n = this.getMap();
    if (n.hasListener(e)) {
      const s = new is(e, void 0, t);
      n.dispatchEvent(s);
    }
  }
  /**
   * @override
   */
  disposeInternal() {
    ce(this.fontChangeListenerKey_), this.element_.remove(), super.disposeInternal();
  }
  /**
   * Render.
   * @param {?import("../Map.js").FrameState} frameState Frame state.
   * @override
   */
  renderFrame(e) {
    if (!e) {
      this.renderedVisible_ && (this.element_.style.display = "none", this.renderedVisible_ = !1);
      return;
    }
    this.calculateMatrices2D(e), this.dispatchRenderEvent(Oe.PRECOMPOSE, e);
    const t = e.layerStatesArray.sort(
      (c, h) => c.zIndex - h.zIndex
    );
    t.some(
      (c) => c.layer instanceof il && c.layer.getDeclutter()
    ) && (e.declutter = {});
    const s = e.viewState;
    this.children_.length = 0;
    const r = [];
    let o = null;
    for (let c = 0, h = t.length; c < h; ++c) {
      const u = t[c];
      e.layerIndex = c;
      const d = u.layer, f = d.getSourceState();
      if (!nl(u, s) || f != "ready" && f != "undefined") {
        d.unrender();
        continue;
      }
      const g = d.render(e, o);
      g && (g !== o && (this.children_.push(g), o = g), r.push(u));
    }
    this.declutter(e, r), lg(this.element_, this.children_);
    const l = this.getMap().getTargetElement();
    if (yn(l)) {
      const c = l.getContext("2d");
      for (const h of this.children_) {
        const u = h.firstElementChild || h, d = h.style.backgroundColor;
        if (d && (!yn(u) || u.width > 0) && (c.fillStyle = d, c.fillRect(0, 0, l.width, l.height)), yn(u) && u.width > 0) {
          const f = h.style.opacity || u.style.opacity;
          c.globalAlpha = f === "" ? 1 : Number(f);
          const g = u.style.transform;
          if (g)
            c.setTransform(
              .../** @type {[number, number, number, number, number, number]} */
              ea(g)
            );
          else {
            const m = parseFloat(u.style.width) / u.width, _ = parseFloat(u.style.height) / u.height;
            c.setTransform(m, 0, 0, _, 0, 0);
          }
          c.drawImage(u, 0, 0);
        }
      }
      c.globalAlpha = 1, c.setTransform(1, 0, 0, 1, 0, 0);
    }
    this.dispatchRenderEvent(Oe.POSTCOMPOSE, e), this.renderedVisible_ || (this.element_.style.display = "", this.renderedVisible_ = !0), this.scheduleExpireIconCache(e);
  }
  /**
   * @param {import("../Map.js").FrameState} frameState Frame state.
   * @param {Array<import('../layer/Layer.js').State>} layerStates Layers.
   */
  declutter(e, t) {
    if (e.declutter) {
      for (let n = t.length - 1; n >= 0; --n) {
        const s = t[n], r = s.layer;
        r.getDeclutter() && r.renderDeclutter(e, s);
      }
      t.forEach(
        (n) => n.layer.renderDeferred(e)
      );
    }
  }
}
function vu(i) {
  if (i instanceof Gs) {
    i.setMapInternal(null);
    return;
  }
  i instanceof Di && i.getLayers().forEach(vu);
}
function Cu(i, e) {
  if (i instanceof Gs) {
    i.setMapInternal(e);
    return;
  }
  if (i instanceof Di) {
    const t = i.getLayers().getArray();
    for (let n = 0, s = t.length; n < s; ++n)
      Cu(t[n], e);
  }
}
let qm = class extends Wt {
  /**
   * @param {MapOptions} [options] Map options.
   */
  constructor(e) {
    super(), e = e || {}, this.on, this.once, this.un;
    const t = Jm(e);
    this.renderComplete_ = !1, this.loaded_ = !0, this.boundHandleBrowserEvent_ = this.handleBrowserEvent.bind(this), this.maxTilesLoading_ = e.maxTilesLoading !== void 0 ? e.maxTilesLoading : 16, this.pixelRatio_ = e.pixelRatio !== void 0 ? e.pixelRatio : og, this.postRenderTimeoutHandle_, this.animationDelayKey_, this.animationDelay_ = this.animationDelay_.bind(this), this.coordinateToPixelTransform_ = we(), this.pixelToCoordinateTransform_ = we(), this.frameIndex_ = 0, this.frameState_ = null, this.previousExtent_ = null, this.viewPropertyListenerKey_ = null, this.viewChangeListenerKey_ = null, this.layerGroupPropertyListenerKeys_ = null, ct || (this.viewport_ = document.createElement("div"), this.viewport_.className = "ol-viewport" + ("ontouchstart" in window ? " ol-touch" : ""), this.viewport_.style.position = "relative", this.viewport_.style.overflow = "hidden", this.viewport_.style.width = "100%", this.viewport_.style.height = "100%", this.overlayContainer_ = document.createElement("div"), this.overlayContainer_.style.position = "absolute", this.overlayContainer_.style.zIndex = "0", this.overlayContainer_.style.width = "100%", this.overlayContainer_.style.height = "100%", this.overlayContainer_.style.pointerEvents = "none", this.overlayContainer_.className = "ol-overlaycontainer", this.viewport_.appendChild(this.overlayContainer_), this.overlayContainerStopEvent_ = document.createElement("div"), this.overlayContainerStopEvent_.style.position = "absolute", this.overlayContainerStopEvent_.style.zIndex = "0", this.overlayContainerStopEvent_.style.width = "100%", this.overlayContainerStopEvent_.style.height = "100%", this.overlayContainerStopEvent_.style.pointerEvents = "none", this.overlayContainerStopEvent_.className = "ol-overlaycontainer-stopevent", this.viewport_.appendChild(this.overlayContainerStopEvent_)), this.mapBrowserEventHandler_ = null, this.moveTolerance_ = e.moveTolerance, this.keyboardEventTarget_ = t.keyboardEventTarget, this.targetChangeHandlerKeys_ = null, this.targetElement_ = null, ct || (this.resizeObserver_ = new ResizeObserver(() => this.updateSize())), this.controls = t.controls || (ct ? new Ue() : wm()), this.interactions = t.interactions || (ct ? new Ue() : Eu({
      onFocusOnly: !0
    })), this.overlays_ = t.overlays, this.overlayIdIndex_ = {}, this.renderer_ = null, this.postRenderFunctions_ = [], this.tileQueue_ = new Tm(
      this.getTilePriority.bind(this),
      this.handleTileChange_.bind(this)
    ), this.addChangeListener(
      ze.LAYERGROUP,
      this.handleLayerGroupChanged_
    ), this.addChangeListener(ze.VIEW, this.handleViewChanged_), this.addChangeListener(ze.SIZE, this.handleSizeChanged_), this.addChangeListener(ze.TARGET, this.handleTargetChanged_), this.setProperties(t.values);
    const n = this;
    e.view && !(e.view instanceof Nt) && e.view.then(function(s) {
      n.setView(new Nt(s));
    }), this.controls.addEventListener(
      $e.ADD,
      /**
       * @param {import("./Collection.js").CollectionEvent<import("./control/Control.js").default>} event CollectionEvent
       */
      (s) => {
        s.element.setMap(this);
      }
    ), this.controls.addEventListener(
      $e.REMOVE,
      /**
       * @param {import("./Collection.js").CollectionEvent<import("./control/Control.js").default>} event CollectionEvent.
       */
      (s) => {
        s.element.setMap(null);
      }
    ), this.interactions.addEventListener(
      $e.ADD,
      /**
       * @param {import("./Collection.js").CollectionEvent<import("./interaction/Interaction.js").default>} event CollectionEvent.
       */
      (s) => {
        s.element.setMap(this);
      }
    ), this.interactions.addEventListener(
      $e.REMOVE,
      /**
       * @param {import("./Collection.js").CollectionEvent<import("./interaction/Interaction.js").default>} event CollectionEvent.
       */
      (s) => {
        s.element.setMap(null);
      }
    ), this.overlays_.addEventListener(
      $e.ADD,
      /**
       * @param {import("./Collection.js").CollectionEvent<import("./Overlay.js").default>} event CollectionEvent.
       */
      (s) => {
        this.addOverlayInternal_(s.element);
      }
    ), this.overlays_.addEventListener(
      $e.REMOVE,
      /**
       * @param {import("./Collection.js").CollectionEvent<import("./Overlay.js").default>} event CollectionEvent.
       */
      (s) => {
        const r = s.element.getId();
        r !== void 0 && delete this.overlayIdIndex_[r.toString()], s.element.setMap(null);
      }
    ), this.controls.forEach(
      /**
       * @param {import("./control/Control.js").default} control Control.
       */
      (s) => {
        s.setMap(this);
      }
    ), this.interactions.forEach(
      /**
       * @param {import("./interaction/Interaction.js").default} interaction Interaction.
       */
      (s) => {
        s.setMap(this);
      }
    ), this.overlays_.forEach(this.addOverlayInternal_.bind(this));
  }
  /**
   * Add the given control to the map.
   * @param {import("./control/Control.js").default} control Control.
   * @api
   */
  addControl(e) {
    this.getControls().push(e);
  }
  /**
   * Add the given interaction to the map. If you want to add an interaction
   * at another point of the collection use `getInteractions()` and the methods
   * available on {@link module:ol/Collection~Collection}. This can be used to
   * stop the event propagation from the handleEvent function. The interactions
   * get to handle the events in the reverse order of this collection.
   * @param {import("./interaction/Interaction.js").default} interaction Interaction to add.
   * @api
   */
  addInteraction(e) {
    this.getInteractions().push(e);
  }
  /**
   * Adds the given layer to the top of this map. If you want to add a layer
   * elsewhere in the stack, use `getLayers()` and the methods available on
   * {@link module:ol/Collection~Collection}.
   * @param {import("./layer/Base.js").default} layer Layer.
   * @api
   */
  addLayer(e) {
    this.getLayerGroup().getLayers().push(e);
  }
  /**
   * @param {import("./layer/Group.js").GroupEvent} event The layer add event.
   * @private
   */
  handleLayerAdd_(e) {
    Cu(e.layer, this);
  }
  /**
   * Add the given overlay to the map.
   * @param {import("./Overlay.js").default} overlay Overlay.
   * @api
   */
  addOverlay(e) {
    this.getOverlays().push(e);
  }
  /**
   * This deals with map's overlay collection changes.
   * @param {import("./Overlay.js").default} overlay Overlay.
   * @private
   */
  addOverlayInternal_(e) {
    const t = e.getId();
    t !== void 0 && (this.overlayIdIndex_[t.toString()] = e), e.setMap(this);
  }
  /**
   *
   * Clean up.
   * @override
   */
  disposeInternal() {
    this.controls.clear(), this.interactions.clear(), this.overlays_.clear(), this.resizeObserver_?.disconnect(), this.setTarget(null), super.disposeInternal();
  }
  /**
   * Detect features that intersect a pixel on the viewport, and execute a
   * callback with each intersecting feature. Layers included in the detection can
   * be configured through the `layerFilter` option in `options`.
   * For polygons without a fill, only the stroke will be used for hit detection.
   * Polygons must have a fill style applied to ensure that pixels inside a polygon are detected.
   * The fill can be transparent.
   * @param {import("./pixel.js").Pixel} pixel Pixel.
   * @param {function(import("./Feature.js").FeatureLike, import("./layer/Layer.js").default<import("./source/Source").default>, import("./geom/SimpleGeometry.js").default): T} callback Feature callback. The callback will be
   *     called with two arguments. The first argument is one
   *     {@link module:ol/Feature~Feature feature} or
   *     {@link module:ol/render/Feature~RenderFeature render feature} at the pixel, the second is
   *     the {@link module:ol/layer/Layer~Layer layer} of the feature and will be null for
   *     unmanaged layers. To stop detection, callback functions can return a
   *     truthy value.
   * @param {AtPixelOptions} [options] Optional options.
   * @return {T|undefined} Callback result, i.e. the return value of last
   * callback execution, or the first truthy callback return value.
   * @template T
   * @api
   */
  forEachFeatureAtPixel(e, t, n) {
    if (!this.frameState_ || !this.renderer_)
      return;
    const s = this.getCoordinateFromPixelInternal(e);
    n = n !== void 0 ? n : {};
    const r = n.hitTolerance !== void 0 ? n.hitTolerance : 0, o = n.layerFilter !== void 0 ? n.layerFilter : zn, a = n.checkWrapped !== !1;
    return this.renderer_.forEachFeatureAtCoordinate(
      s,
      this.frameState_,
      r,
      a,
      t,
      null,
      o,
      null
    );
  }
  /**
   * Get all features that intersect a pixel on the viewport.
   * For polygons without a fill, only the stroke will be used for hit detection.
   * Polygons must have a fill style applied to ensure that pixels inside a polygon are detected.
   * The fill can be transparent.
   * @param {import("./pixel.js").Pixel} pixel Pixel.
   * @param {AtPixelOptions} [options] Optional options.
   * @return {Array<import("./Feature.js").FeatureLike>} The detected features or
   * an empty array if none were found.
   * @api
   */
  getFeaturesAtPixel(e, t) {
    const n = [];
    return this.forEachFeatureAtPixel(
      e,
      function(s) {
        n.push(s);
      },
      t
    ), n;
  }
  /**
   * Get all layers from all layer groups.
   * @return {Array<import("./layer/Layer.js").default>} Layers.
   * @api
   */
  getAllLayers() {
    const e = [];
    function t(n) {
      n.forEach(function(s) {
        s instanceof Di ? t(s.getLayers()) : e.push(s);
      });
    }
    return t(this.getLayers()), e;
  }
  /**
   * Detect if features intersect a pixel on the viewport. Layers included in the
   * detection can be configured through the `layerFilter` option.
   * For polygons without a fill, only the stroke will be used for hit detection.
   * Polygons must have a fill style applied to ensure that pixels inside a polygon are detected.
   * The fill can be transparent.
   * @param {import("./pixel.js").Pixel} pixel Pixel.
   * @param {AtPixelOptions} [options] Optional options.
   * @return {boolean} Is there a feature at the given pixel?
   * @api
   */
  hasFeatureAtPixel(e, t) {
    if (!this.frameState_ || !this.renderer_)
      return !1;
    const n = this.getCoordinateFromPixelInternal(e);
    t = t !== void 0 ? t : {};
    const s = t.layerFilter !== void 0 ? t.layerFilter : zn, r = t.hitTolerance !== void 0 ? t.hitTolerance : 0, o = t.checkWrapped !== !1;
    return this.renderer_.hasFeatureAtCoordinate(
      n,
      this.frameState_,
      r,
      o,
      s,
      null
    );
  }
  /**
   * Returns the coordinate in user projection for a browser event.
   * @param {MouseEvent} event Event.
   * @return {import("./coordinate.js").Coordinate} Coordinate.
   * @api
   */
  getEventCoordinate(e) {
    return this.getCoordinateFromPixel(this.getEventPixel(e));
  }
  /**
   * Returns the coordinate in view projection for a browser event.
   * @param {MouseEvent} event Event.
   * @return {import("./coordinate.js").Coordinate} Coordinate.
   */
  getEventCoordinateInternal(e) {
    return this.getCoordinateFromPixelInternal(this.getEventPixel(e));
  }
  /**
   * Returns the map pixel position for a browser event relative to the viewport.
   * @param {UIEvent|{clientX: number, clientY: number}} event Event.
   * @return {import("./pixel.js").Pixel} Pixel.
   * @api
   */
  getEventPixel(e) {
    const n = this.viewport_.getBoundingClientRect(), s = this.getSize(), r = n.width / s[0], o = n.height / s[1], a = (
      //FIXME Are we really calling this with a TouchEvent anywhere?
      "changedTouches" in e ? (
        /** @type {TouchEvent} */
        e.changedTouches[0]
      ) : (
        /** @type {MouseEvent} */
        e
      )
    );
    return [
      (a.clientX - n.left) / r,
      (a.clientY - n.top) / o
    ];
  }
  /**
   * Get the target in which this map is rendered.
   * Note that this returns what is entered as an option or in setTarget:
   * if that was an element, it returns an element; if a string, it returns that.
   * @return {HTMLElement|string|undefined} The Element or id of the Element that the
   *     map is rendered in.
   * @observable
   * @api
   */
  getTarget() {
    return (
      /** @type {HTMLElement|string|undefined} */
      this.get(ze.TARGET)
    );
  }
  /**
   * Get the DOM element into which this map is rendered. In contrast to
   * `getTarget` this method always return an `Element`, or `null` if the
   * map has no target.
   * @return {HTMLElement} The element that the map is rendered in.
   * @api
   */
  getTargetElement() {
    return this.targetElement_;
  }
  /**
   * Get the coordinate for a given pixel.  This returns a coordinate in the
   * user projection.
   * @param {import("./pixel.js").Pixel} pixel Pixel position in the map viewport.
   * @return {import("./coordinate.js").Coordinate} The coordinate for the pixel position.
   * @api
   */
  getCoordinateFromPixel(e) {
    return Un(
      this.getCoordinateFromPixelInternal(e),
      this.getView().getProjection()
    );
  }
  /**
   * Get the coordinate for a given pixel.  This returns a coordinate in the
   * map view projection.
   * @param {import("./pixel.js").Pixel} pixel Pixel position in the map viewport.
   * @return {import("./coordinate.js").Coordinate} The coordinate for the pixel position.
   */
  getCoordinateFromPixelInternal(e) {
    const t = this.frameState_;
    return t ? xe(t.pixelToCoordinateTransform, e.slice()) : null;
  }
  /**
   * Get the map controls. Modifying this collection changes the controls
   * associated with the map.
   * @return {Collection<import("./control/Control.js").default>} Controls.
   * @api
   */
  getControls() {
    return this.controls;
  }
  /**
   * Get the map overlays. Modifying this collection changes the overlays
   * associated with the map.
   * @return {Collection<import("./Overlay.js").default>} Overlays.
   * @api
   */
  getOverlays() {
    return this.overlays_;
  }
  /**
   * Get an overlay by its identifier (the value returned by overlay.getId()).
   * Note that the index treats string and numeric identifiers as the same. So
   * `map.getOverlayById(2)` will return an overlay with id `'2'` or `2`.
   * @param {string|number} id Overlay identifier.
   * @return {import("./Overlay.js").default|null} Overlay.
   * @api
   */
  getOverlayById(e) {
    const t = this.overlayIdIndex_[e.toString()];
    return t !== void 0 ? t : null;
  }
  /**
   * Get the map interactions. Modifying this collection changes the interactions
   * associated with the map.
   *
   * Interactions are used for e.g. pan, zoom and rotate.
   * @return {Collection<import("./interaction/Interaction.js").default>} Interactions.
   * @api
   */
  getInteractions() {
    return this.interactions;
  }
  /**
   * Get the layergroup associated with this map.
   * @return {LayerGroup} A layer group containing the layers in this map.
   * @observable
   * @api
   */
  getLayerGroup() {
    return (
      /** @type {LayerGroup} */
      this.get(ze.LAYERGROUP)
    );
  }
  /**
   * Clear any existing layers and add layers to the map.
   * @param {Array<import("./layer/Base.js").default>|Collection<import("./layer/Base.js").default>} layers The layers to be added to the map.
   * @api
   */
  setLayers(e) {
    const t = this.getLayerGroup();
    if (e instanceof Ue) {
      t.setLayers(e);
      return;
    }
    const n = t.getLayers();
    n.clear(), n.extend(e);
  }
  /**
   * Get the collection of layers associated with this map.
   * @return {!Collection<import("./layer/Base.js").default>} Layers.
   * @api
   */
  getLayers() {
    return this.getLayerGroup().getLayers();
  }
  /**
   * @return {boolean} Layers have sources that are still loading.
   */
  getLoadingOrNotReady() {
    const e = this.getLayerGroup().getLayerStatesArray();
    for (let t = 0, n = e.length; t < n; ++t) {
      const s = e[t];
      if (!s.visible)
        continue;
      const r = s.layer.getRenderer();
      if (r && !r.ready)
        return !0;
      const o = s.layer.getSource();
      if (o && o.loading)
        return !0;
    }
    return !1;
  }
  /**
   * Get the pixel for a coordinate.  This takes a coordinate in the user
   * projection and returns the corresponding pixel.
   * @param {import("./coordinate.js").Coordinate} coordinate A map coordinate.
   * @return {import("./pixel.js").Pixel} A pixel position in the map viewport.
   * @api
   */
  getPixelFromCoordinate(e) {
    const t = ge(
      e,
      this.getView().getProjection()
    );
    return this.getPixelFromCoordinateInternal(t);
  }
  /**
   * Get the pixel for a coordinate.  This takes a coordinate in the map view
   * projection and returns the corresponding pixel.
   * @param {import("./coordinate.js").Coordinate} coordinate A map coordinate.
   * @return {import("./pixel.js").Pixel} A pixel position in the map viewport.
   */
  getPixelFromCoordinateInternal(e) {
    const t = this.frameState_;
    return t ? xe(
      t.coordinateToPixelTransform,
      e.slice(0, 2)
    ) : null;
  }
  /**
   * Get the map renderer.
   * @return {import("./renderer/Map.js").default|null} Renderer
   */
  getRenderer() {
    return this.renderer_;
  }
  /**
   * Get the size of this map.
   * @return {import("./size.js").Size|undefined} The size in pixels of the map in the DOM.
   * @observable
   * @api
   */
  getSize() {
    return (
      /** @type {import("./size.js").Size|undefined} */
      this.get(ze.SIZE)
    );
  }
  /**
   * Get the view associated with this map. A view manages properties such as
   * center and resolution.
   * @return {View} The view that controls this map.
   * @observable
   * @api
   */
  getView() {
    return (
      /** @type {View} */
      this.get(ze.VIEW)
    );
  }
  /**
   * Get the element that serves as the map viewport.
   * @return {HTMLElement} Viewport.
   * @api
   */
  getViewport() {
    return this.viewport_;
  }
  /**
   * Get the element that serves as the container for overlays.  Elements added to
   * this container will let mousedown and touchstart events through to the map,
   * so clicks and gestures on an overlay will trigger {@link module:ol/MapBrowserEvent~MapBrowserEvent}
   * events.
   * @return {!HTMLElement} The map's overlay container.
   */
  getOverlayContainer() {
    return this.overlayContainer_;
  }
  /**
   * Get the element that serves as a container for overlays that don't allow
   * event propagation. Elements added to this container won't let mousedown and
   * touchstart events through to the map, so clicks and gestures on an overlay
   * don't trigger any {@link module:ol/MapBrowserEvent~MapBrowserEvent}.
   * @return {!HTMLElement} The map's overlay container that stops events.
   */
  getOverlayContainerStopEvent() {
    return this.overlayContainerStopEvent_;
  }
  /**
   * @return {!Document} The document where the map is displayed.
   */
  getOwnerDocument() {
    const e = this.getTargetElement();
    return e ? e.ownerDocument : document;
  }
  /**
   * @param {import("./Tile.js").default} tile Tile.
   * @param {string} tileSourceKey Tile source key.
   * @param {import("./coordinate.js").Coordinate} tileCenter Tile center.
   * @param {number} tileResolution Tile resolution.
   * @return {number} Tile priority.
   */
  getTilePriority(e, t, n, s) {
    return Sm(
      this.frameState_,
      e,
      t,
      n,
      s
    );
  }
  /**
   * @param {PointerEvent|KeyboardEvent|WheelEvent} browserEvent Browser event.
   * @param {string} [type] Type.
   */
  handleBrowserEvent(e, t) {
    t = t || e.type;
    const n = new gn(t, this, e);
    this.handleMapBrowserEvent(n);
  }
  /**
   * @param {MapBrowserEvent} mapBrowserEvent The event to handle.
   */
  handleMapBrowserEvent(e) {
    if (!this.frameState_)
      return;
    const t = e.originalEvent, n = t.type;
    if (n === ha.POINTERDOWN || n === Y.WHEEL || n === Y.KEYDOWN) {
      const s = this.getOwnerDocument(), r = this.viewport_.getRootNode ? this.viewport_.getRootNode() : s, o = (
        /** @type {Node} */
        t.target
      ), a = r instanceof ShadowRoot ? r.host === o ? r.host.ownerDocument : r : r === s ? s.documentElement : r;
      if (
        // Abort if the target is a child of the container for elements whose events are not meant
        // to be handled by map interactions.
        this.overlayContainerStopEvent_.contains(o) || // Abort if the event target is a child of the container that is no longer in the page.
        // It's possible for the target to no longer be in the page if it has been removed in an
        // event listener, this might happen in a Control that recreates it's content based on
        // user interaction either manually or via a render in something like https://reactjs.org/
        !a.contains(o)
      )
        return;
    }
    if (e.frameState = this.frameState_, this.dispatchEvent(e) !== !1) {
      const s = this.getInteractions().getArray().slice();
      for (let r = s.length - 1; r >= 0; r--) {
        const o = s[r];
        if (o.getMap() !== this || !o.getActive() || !this.getTargetElement())
          continue;
        if (!o.handleEvent(e) || e.propagationStopped)
          break;
      }
    }
  }
  /**
   * @protected
   */
  handlePostRender() {
    const e = this.frameState_, t = this.tileQueue_;
    if (!t.isEmpty()) {
      let s = this.maxTilesLoading_, r = s;
      if (e) {
        const o = e.viewHints;
        if (o[De.ANIMATING] || o[De.INTERACTING]) {
          const a = Date.now() - e.time > 8;
          s = a ? 0 : 8, r = a ? 0 : 2;
        }
      }
      t.getTilesLoading() < s && (t.reprioritize(), t.loadMoreTiles(s, r));
    }
    e && this.renderer_ && !e.animate && (this.renderComplete_ ? (this.hasListener(Oe.RENDERCOMPLETE) && this.renderer_.dispatchRenderEvent(
      Oe.RENDERCOMPLETE,
      e
    ), this.loaded_ === !1 && (this.loaded_ = !0, this.dispatchEvent(
      new gi(_n.LOADEND, this, e)
    ))) : this.loaded_ === !0 && (this.loaded_ = !1, this.dispatchEvent(
      new gi(_n.LOADSTART, this, e)
    )));
    const n = this.postRenderFunctions_;
    if (e)
      for (let s = 0, r = n.length; s < r; ++s)
        n[s](this, e);
    n.length = 0;
  }
  /**
   * @private
   */
  handleSizeChanged_() {
    this.getView() && !this.getView().getAnimating() && this.getView().resolveConstraints(0), this.render();
  }
  /**
   * @private
   */
  handleTargetChanged_() {
    if (this.mapBrowserEventHandler_) {
      for (let n = 0, s = this.targetChangeHandlerKeys_.length; n < s; ++n)
        ce(this.targetChangeHandlerKeys_[n]);
      this.targetChangeHandlerKeys_ = null, this.viewport_.removeEventListener(
        Y.CONTEXTMENU,
        this.boundHandleBrowserEvent_
      ), this.viewport_.removeEventListener(
        Y.WHEEL,
        this.boundHandleBrowserEvent_
      ), this.mapBrowserEventHandler_.dispose(), this.mapBrowserEventHandler_ = null, this.viewport_.remove();
    }
    if (this.targetElement_ && !yn(this.targetElement_)) {
      this.resizeObserver_?.unobserve(this.targetElement_);
      const n = this.targetElement_.getRootNode();
      n instanceof ShadowRoot && this.resizeObserver_.unobserve(n.host), this.setSize(void 0);
    }
    const e = this.getTarget(), t = typeof e == "string" ? document.getElementById(e) : e;
    if (this.targetElement_ = t, !t)
      this.renderer_ && (clearTimeout(this.postRenderTimeoutHandle_), this.postRenderTimeoutHandle_ = void 0, this.postRenderFunctions_.length = 0, this.renderer_.dispose(), this.renderer_ = null), this.animationDelayKey_ && (cancelAnimationFrame(this.animationDelayKey_), this.animationDelayKey_ = void 0);
    else {
      if (yn(t) || t.appendChild(this.viewport_), this.renderer_ || (this.renderer_ = new Hm(this)), !yn(t)) {
        this.mapBrowserEventHandler_ = new vm(
          this,
          this.moveTolerance_
        );
        for (const s in le)
          this.mapBrowserEventHandler_.addEventListener(
            le[s],
            this.handleMapBrowserEvent.bind(this)
          );
        this.viewport_.addEventListener(
          Y.CONTEXTMENU,
          this.boundHandleBrowserEvent_,
          !1
        ), this.viewport_.addEventListener(
          Y.WHEEL,
          this.boundHandleBrowserEvent_,
          Gh ? { passive: !1 } : !1
        );
        let n;
        if (this.keyboardEventTarget_)
          n = this.keyboardEventTarget_;
        else {
          const s = t.getRootNode();
          n = s instanceof ShadowRoot ? s.host : t;
        }
        if (this.targetChangeHandlerKeys_ = [
          ne(
            n,
            Y.KEYDOWN,
            this.handleBrowserEvent,
            this
          ),
          ne(
            n,
            Y.KEYPRESS,
            this.handleBrowserEvent,
            this
          )
        ], t instanceof HTMLElement) {
          const s = t.getRootNode();
          s instanceof ShadowRoot && this.resizeObserver_.observe(s.host), this.resizeObserver_?.observe(t);
        }
      }
      this.updateSize();
    }
  }
  /**
   * @private
   */
  handleTileChange_() {
    this.render();
  }
  /**
   * @private
   */
  handleViewPropertyChanged_() {
    this.render();
  }
  /**
   * @private
   */
  handleViewChanged_() {
    this.viewPropertyListenerKey_ && (ce(this.viewPropertyListenerKey_), this.viewPropertyListenerKey_ = null), this.viewChangeListenerKey_ && (ce(this.viewChangeListenerKey_), this.viewChangeListenerKey_ = null);
    const e = this.getView();
    e && (this.updateViewportSize_(this.getSize()), this.viewPropertyListenerKey_ = ne(
      e,
      Ii.PROPERTYCHANGE,
      this.handleViewPropertyChanged_,
      this
    ), this.viewChangeListenerKey_ = ne(
      e,
      Y.CHANGE,
      this.handleViewPropertyChanged_,
      this
    ), e.resolveConstraints(0)), this.render();
  }
  /**
   * @private
   */
  handleLayerGroupChanged_() {
    this.layerGroupPropertyListenerKeys_ && (this.layerGroupPropertyListenerKeys_.forEach(ce), this.layerGroupPropertyListenerKeys_ = null);
    const e = this.getLayerGroup();
    e && (this.handleLayerAdd_(new mn("addlayer", e)), this.layerGroupPropertyListenerKeys_ = [
      ne(e, Ii.PROPERTYCHANGE, this.render, this),
      ne(e, Y.CHANGE, this.render, this),
      ne(e, "addlayer", this.handleLayerAdd_, this),
      ne(e, "removelayer", this.handleLayerRemove_, this)
    ]), this.render();
  }
  /**
   * @return {boolean} Is rendered.
   */
  isRendered() {
    return !!this.frameState_;
  }
  /**
   * @private
   */
  animationDelay_() {
    this.animationDelayKey_ = void 0, this.renderFrame_(Date.now());
  }
  /**
   * Requests an immediate render in a synchronous manner.
   * @api
   */
  renderSync() {
    this.animationDelayKey_ && cancelAnimationFrame(this.animationDelayKey_), this.animationDelay_();
  }
  /**
   * Redraws all text after new fonts have loaded
   */
  redrawText() {
    if (!this.frameState_)
      return;
    const e = this.frameState_.layerStatesArray;
    for (let t = 0, n = e.length; t < n; ++t) {
      const s = e[t].layer;
      s.hasRenderer() && s.getRenderer().handleFontsChanged();
    }
  }
  /**
   * Request a map rendering (at the next animation frame).
   * @api
   */
  render() {
    this.renderer_ && this.animationDelayKey_ === void 0 && (this.animationDelayKey_ = requestAnimationFrame(this.animationDelay_));
  }
  /**
   * Remove the given control from the map.
   * @param {import("./control/Control.js").default} control Control.
   * @return {import("./control/Control.js").default|undefined} The removed control (or undefined
   *     if the control was not found).
   * @api
   */
  removeControl(e) {
    return this.getControls().remove(e);
  }
  /**
   * Remove the given interaction from the map.
   * @param {import("./interaction/Interaction.js").default} interaction Interaction to remove.
   * @return {import("./interaction/Interaction.js").default|undefined} The removed interaction (or
   *     undefined if the interaction was not found).
   * @api
   */
  removeInteraction(e) {
    return this.getInteractions().remove(e);
  }
  /**
   * Removes the given layer from the map.
   * @param {import("./layer/Base.js").default} layer Layer.
   * @return {import("./layer/Base.js").default|undefined} The removed layer (or undefined if the
   *     layer was not found).
   * @api
   */
  removeLayer(e) {
    return this.getLayerGroup().getLayers().remove(e);
  }
  /**
   * @param {import("./layer/Group.js").GroupEvent} event The layer remove event.
   * @private
   */
  handleLayerRemove_(e) {
    vu(e.layer);
  }
  /**
   * Remove the given overlay from the map.
   * @param {import("./Overlay.js").default} overlay Overlay.
   * @return {import("./Overlay.js").default|undefined} The removed overlay (or undefined
   *     if the overlay was not found).
   * @api
   */
  removeOverlay(e) {
    return this.getOverlays().remove(e);
  }
  /**
   * @param {number} time Time.
   * @private
   */
  renderFrame_(e) {
    const t = this.getSize(), n = this.getView(), s = this.frameState_;
    let r = null;
    if (t !== void 0 && ic(t) && n && n.isDef()) {
      const o = n.getHints(
        this.frameState_ ? this.frameState_.viewHints : void 0
      ), a = n.getState();
      if (r = {
        animate: !1,
        coordinateToPixelTransform: this.coordinateToPixelTransform_,
        declutter: null,
        extent: Yo(
          a.center,
          a.resolution,
          a.rotation,
          t
        ),
        index: this.frameIndex_++,
        layerIndex: 0,
        layerStatesArray: this.getLayerGroup().getLayerStatesArray(),
        pixelRatio: this.pixelRatio_,
        pixelToCoordinateTransform: this.pixelToCoordinateTransform_,
        postRenderFunctions: [],
        size: t,
        tileQueue: this.tileQueue_,
        time: e,
        usedTiles: {},
        viewState: a,
        viewHints: o,
        wantedTiles: {},
        mapId: z(this),
        renderTargets: {}
      }, a.nextCenter && a.nextResolution) {
        const l = isNaN(a.nextRotation) ? a.rotation : a.nextRotation;
        r.nextExtent = Yo(
          a.nextCenter,
          a.nextResolution,
          l,
          t
        );
      }
    }
    this.frameState_ = r, this.renderer_.renderFrame(r), r && (r.animate && this.render(), Array.prototype.push.apply(
      this.postRenderFunctions_,
      r.postRenderFunctions
    ), s && (!this.previousExtent_ || !wi(this.previousExtent_) && !Ri(r.extent, this.previousExtent_)) && (this.dispatchEvent(
      new gi(_n.MOVESTART, this, s)
    ), this.previousExtent_ = Is(this.previousExtent_)), this.previousExtent_ && !r.viewHints[De.ANIMATING] && !r.viewHints[De.INTERACTING] && !Ri(r.extent, this.previousExtent_) && (this.dispatchEvent(
      new gi(_n.MOVEEND, this, r)
    ), oh(r.extent, this.previousExtent_))), this.dispatchEvent(new gi(_n.POSTRENDER, this, r)), this.renderComplete_ = (this.hasListener(_n.LOADSTART) || this.hasListener(_n.LOADEND) || this.hasListener(Oe.RENDERCOMPLETE)) && !this.tileQueue_.getTilesLoading() && !this.tileQueue_.getCount() && !this.getLoadingOrNotReady(), this.postRenderTimeoutHandle_ || (this.postRenderTimeoutHandle_ = setTimeout(() => {
      this.postRenderTimeoutHandle_ = void 0, this.handlePostRender();
    }, 0));
  }
  /**
   * Sets the layergroup of this map.
   * @param {LayerGroup} layerGroup A layer group containing the layers in this map.
   * @observable
   * @api
   */
  setLayerGroup(e) {
    const t = this.getLayerGroup();
    t && this.handleLayerRemove_(new mn("removelayer", t)), this.set(ze.LAYERGROUP, e);
  }
  /**
   * Set the size of this map.
   * @param {import("./size.js").Size|undefined} size The size in pixels of the map in the DOM.
   * @observable
   * @api
   */
  setSize(e) {
    this.set(ze.SIZE, e);
  }
  /**
   * Set the target element to render this map into.
   * For accessibility (focus and keyboard events for map navigation), the `target` element must have a
   *  properly configured `tabindex` attribute. If the `target` element is inside a Shadow DOM, the
   *  `tabindex` atribute must be set on the custom element's host element.
   * @param {HTMLElement|string} [target] The Element or id of the Element
   *     that the map is rendered in.
   * @observable
   * @api
   */
  setTarget(e) {
    this.set(ze.TARGET, e);
  }
  /**
   * Set the view for this map.
   * @param {View|Promise<import("./View.js").ViewOptions>|null} view The view that controls this map.
   * It is also possible to pass a promise that resolves to options for constructing a view.  This
   * alternative allows view properties to be resolved by sources or other components that load
   * view-related metadata.
   * @observable
   * @api
   */
  setView(e) {
    if (!e || e instanceof Nt) {
      this.set(ze.VIEW, e);
      return;
    }
    this.set(ze.VIEW, new Nt());
    const t = this;
    e.then(function(n) {
      t.setView(new Nt(n));
    });
  }
  /**
   * Force a recalculation of the map viewport size.  This should be called when
   * third-party code changes the size of the map viewport.
   * @api
   */
  updateSize() {
    const e = this.getTargetElement();
    let t;
    if (e) {
      let s, r;
      if (yn(e))
        s = e.width, r = e.height;
      else {
        const o = getComputedStyle(e);
        s = e.offsetWidth - parseFloat(o.borderLeftWidth) - parseFloat(o.paddingLeft) - parseFloat(o.paddingRight) - parseFloat(o.borderRightWidth), r = e.offsetHeight - parseFloat(o.borderTopWidth) - parseFloat(o.paddingTop) - parseFloat(o.paddingBottom) - parseFloat(o.borderBottomWidth);
      }
      !isNaN(s) && !isNaN(r) && (t = [Math.max(0, s), Math.max(0, r)], !ic(t) && (e.offsetWidth || e.offsetHeight || e.getClientRects().length) && rh(
        "No map visible because the map container's width or height are 0."
      ));
    }
    const n = this.getSize();
    t && (!n || !$t(t, n)) && (this.setSize(t), this.updateViewportSize_(t));
  }
  /**
   * Recomputes the viewport size and save it on the view object (if any)
   * @param {import("./size.js").Size|undefined} size The size.
   * @private
   */
  updateViewportSize_(e) {
    const t = this.getView();
    t && t.setViewportSize(e);
  }
};
function Jm(i) {
  let e = null;
  i.keyboardEventTarget !== void 0 && (e = typeof i.keyboardEventTarget == "string" ? document.getElementById(i.keyboardEventTarget) : i.keyboardEventTarget);
  const t = {}, n = i.layers && typeof /** @type {?} */
  i.layers.getLayers == "function" ? (
    /** @type {LayerGroup} */
    i.layers
  ) : new Di({
    layers: (
      /** @type {Collection<import("./layer/Base.js").default>|Array<import("./layer/Base.js").default>} */
      i.layers
    )
  });
  t[ze.LAYERGROUP] = n, t[ze.TARGET] = i.target, t[ze.VIEW] = i.view instanceof Nt ? i.view : new Nt();
  let s;
  i.controls !== void 0 && (Array.isArray(i.controls) ? s = new Ue(i.controls.slice()) : (ie(
    typeof /** @type {?} */
    i.controls.getArray == "function",
    "Expected `controls` to be an array or an `ol/Collection.js`"
  ), s = i.controls));
  let r;
  i.interactions !== void 0 && (Array.isArray(i.interactions) ? r = new Ue(i.interactions.slice()) : (ie(
    typeof /** @type {?} */
    i.interactions.getArray == "function",
    "Expected `interactions` to be an array or an `ol/Collection.js`"
  ), r = i.interactions));
  let o;
  return i.overlays !== void 0 ? Array.isArray(i.overlays) ? o = new Ue(i.overlays.slice()) : (ie(
    typeof /** @type {?} */
    i.overlays.getArray == "function",
    "Expected `overlays` to be an array or an `ol/Collection.js`"
  ), o = i.overlays) : o = new Ue(), {
    controls: s,
    interactions: r,
    keyboardEventTarget: e,
    overlays: o,
    values: t
  };
}
class ll {
  /**
   * @param {number} minX Minimum X.
   * @param {number} maxX Maximum X.
   * @param {number} minY Minimum Y.
   * @param {number} maxY Maximum Y.
   */
  constructor(e, t, n, s) {
    this.minX = e, this.maxX = t, this.minY = n, this.maxY = s;
  }
  /**
   * @param {import("./tilecoord.js").TileCoord} tileCoord Tile coordinate.
   * @return {boolean} Contains tile coordinate.
   */
  contains(e) {
    return this.containsXY(e[1], e[2]);
  }
  /**
   * @param {TileRange} tileRange Tile range.
   * @return {boolean} Contains.
   */
  containsTileRange(e) {
    return this.minX <= e.minX && e.maxX <= this.maxX && this.minY <= e.minY && e.maxY <= this.maxY;
  }
  /**
   * @param {number} x Tile coordinate x.
   * @param {number} y Tile coordinate y.
   * @return {boolean} Contains coordinate.
   */
  containsXY(e, t) {
    return this.minX <= e && e <= this.maxX && this.minY <= t && t <= this.maxY;
  }
  /**
   * @param {TileRange} tileRange Tile range.
   * @return {boolean} Equals.
   */
  equals(e) {
    return this.minX == e.minX && this.minY == e.minY && this.maxX == e.maxX && this.maxY == e.maxY;
  }
  /**
   * @param {TileRange} tileRange Tile range.
   */
  extend(e) {
    e.minX < this.minX && (this.minX = e.minX), e.maxX > this.maxX && (this.maxX = e.maxX), e.minY < this.minY && (this.minY = e.minY), e.maxY > this.maxY && (this.maxY = e.maxY);
  }
  /**
   * @return {number} Height.
   */
  getHeight() {
    return this.maxY - this.minY + 1;
  }
  /**
   * @return {import("./size.js").Size} Size.
   */
  getSize() {
    return [this.getWidth(), this.getHeight()];
  }
  /**
   * @return {number} Width.
   */
  getWidth() {
    return this.maxX - this.minX + 1;
  }
  /**
   * @param {TileRange} tileRange Tile range.
   * @return {boolean} Intersects.
   */
  intersects(e) {
    return this.minX <= e.maxX && this.maxX >= e.minX && this.minY <= e.maxY && this.maxY >= e.minY;
  }
}
function ri(i, e, t, n, s) {
  return s !== void 0 ? (s.minX = i, s.maxX = e, s.minY = t, s.maxY = n, s) : new ll(i, e, t, n);
}
const Ss = "#3488AF", Qm = "#82C3E0", Tu = "#FFFFFF", Su = "rgba(233, 248, 255, 0.8)", ep = "#3E9FCC", cl = 4, Ru = "#FFFFFF", tp = {
  "icon-anchor": [0.5, 0.95],
  "icon-anchor-x-units": "fraction",
  "icon-anchor-y-units": "fraction"
}, Us = {
  "icon-src": Og,
  "icon-width": 40,
  "icon-height": 40,
  ...tp
}, np = {
  ...Us,
  "icon-src": jh
}, hl = {
  "stroke-width": cl,
  "stroke-color": ep,
  "fill-color": Su
}, wu = {
  ...Us,
  "icon-width": 50,
  "icon-height": 50
}, ip = {
  ...wu,
  "icon-src": jh
}, Pu = {
  "stroke-width": 6
}, Iu = "rgba(148, 224, 237, 0.7)", sp = {
  "circle-radius": 30,
  "circle-fill-color": Iu,
  "circle-displacement": [0, 22]
}, ul = 20, rp = {
  "stroke-width": ul,
  "stroke-color": Iu,
  "fill-color": "transparent"
}, op = {
  "stroke-width": ul,
  "stroke-color": "rgba(34, 197, 94, 0.6)",
  "fill-color": "transparent"
}, ap = "rgba( 255, 255, 255, 0.1)", lp = {
  "stroke-width": ul,
  "stroke-color": ap
}, cp = "#6393F2", hp = "rgba(99, 147, 242, 0.3)", up = "rgba(99, 147, 242, 0.1)", qr = (i, e, t = 8, n = 2) => new Tn({
  radius: t,
  fill: new vt({ color: i }),
  stroke: new Rt({ color: e, width: n })
}), Gn = (i, e) => ["all", ["in", ["geometry-type"], ["literal", i]], ...e];
function dp(i, e, t) {
  const n = [
    ["!=", ["get", i], ["var", e]],
    ["!=", ["get", i], ["var", t]]
  ];
  return [
    {
      filter: Gn(["Point"], n),
      style: Us
    },
    {
      filter: Gn(["LineString", "Polygon"], n),
      style: hl
    },
    {
      filter: Gn(["LineString"], n),
      style: lp
    }
  ];
}
function fp(i, e, t) {
  const n = [
    ["==", ["get", i], ["var", e]],
    ["!=", ["get", i], ["var", t]]
  ];
  return [
    {
      filter: Gn(["Point"], n),
      style: [sp, Us, wu]
    },
    {
      filter: Gn(["LineString", "Polygon"], n),
      style: [rp, hl, Pu]
    }
  ];
}
function Ac(i, e) {
  const t = ["==", ["get", i], ["var", e]];
  return [
    {
      filter: Gn(["Point"], [t]),
      style: [np, Us, ip]
    },
    {
      filter: Gn(["LineString", "Polygon"], [t]),
      style: [op, hl, Pu]
    }
  ];
}
const gp = (i) => new Ne({
  stroke: new Rt({ color: i, width: cl }),
  fill: new vt({ color: Su })
}), _p = (i, e) => new Ne({
  image: qr(Tu, i),
  geometry: () => e.length > 1 ? new Os(e.slice(0, -1)) : void 0
}), mp = (i, e) => new Ne({
  image: qr(Ss, Ru),
  geometry: () => {
    if (i === void 0)
      return;
    const t = e[i];
    if (t?.length)
      return new Je(t);
  }
}), pp = (i, e) => new Ne({
  image: qr(Tu, Ss),
  geometry: () => {
    const t = e[0];
    if (e.length === 1 && t)
      return new Je(t);
    const n = e.length === 2 ? e[1] : e[e.length - i];
    if (n)
      return new Je(n);
  }
});
function yp(i, e) {
  return (t) => {
    const n = t?.getGeometry(), s = Ft(n);
    if (!s.length)
      return [];
    const r = !!t.get(i), o = r ? t.get(e) : void 0, a = r && o === void 0 ? Ss : Qm, l = n instanceof Ve ? 1 : 2;
    return [
      gp(a),
      _p(a, s),
      pp(l, s),
      mp(o, s)
    ];
  };
}
function xp() {
  const i = qr(Ss, Ss, 4);
  return ("ontouchstart" in window || navigator.maxTouchPoints > 0) && i.setOpacity(0), new Ne({ image: i });
}
const Au = 13, Fc = new Ne({
  image: new Tn({
    radius: Au,
    fill: new vt({ color: cp }),
    stroke: new Rt({ color: Ru, width: cl })
  }),
  zIndex: 2
}), Ep = new vt({ color: hp }), vp = new Rt({ color: up, width: 1 }), Cp = 5;
function Tp(i) {
  const e = [Fc], t = i.getView().getProjection();
  let n = 0, s = e;
  return (r, o) => {
    const a = r.get("accuracy"), l = r.getGeometry();
    let c = 0;
    if (a && l) {
      const u = Qo(t, o, l.getCoordinates(), "m");
      u > 0 && (c = a / u);
    }
    if (Math.abs(c - n) < Cp)
      return s;
    n = c;
    const h = i.getSize()?.[0] ?? 0;
    return c < Au || c * 2 > h ? (s = e, s) : (s = [
      new Ne({
        image: new Tn({
          radius: c,
          fill: Ep,
          stroke: vp
        }),
        zIndex: 1
      }),
      Fc
    ], s);
  };
}
const dn = {
  UNKNOWN: "unknown",
  SHORT: "short",
  MID: "mid",
  LONG: "long"
}, on = "XYZM", Fu = [0, 0], bu = 2, oi = 19, bc = 4, Sp = 50 * 1e3, Rp = 1e3, wp = 30 * 1e3, Pp = 1e3, Xi = 1e3, Ip = 500, Lc = 576;
function Ap(i) {
  const e = lt(), t = lt(), n = lt(), s = lt(), r = new Ya(), o = new Hr({
    source: r,
    style: Tp(i)
  });
  i.addLayer(o);
  const a = (p) => {
    if (p.isEmpty())
      return;
    const x = p.getExtent();
    if (wi(x))
      return;
    const v = i.getView(), E = zt(x), y = g(v, E), T = [70, 70, 70, 70];
    if (y === dn.LONG) {
      v.animate(
        { zoom: bc, duration: Xi, easing: pt },
        { center: E, duration: Xi, easing: pt },
        () => {
          v.fit(x, {
            padding: T,
            duration: 0,
            maxZoom: oi
          });
        }
      );
      return;
    }
    v.fit(x, {
      padding: T,
      duration: m(y),
      maxZoom: oi
    });
  }, l = (p, x) => {
    s.value && clearTimeout(s.value), s.value = setTimeout(() => {
      if (!e.value)
        return;
      const { latitude: v, longitude: E, altitude: y, accuracy: T } = p.coords;
      t.value = { latitude: v, longitude: E, altitude: y, accuracy: T }, x();
    }, Ip);
  }, c = (p) => {
    u(), p();
  }, h = (p, x) => {
    if (e.value) {
      const v = n.value?.getGeometry()?.getCoordinates();
      v && (_(v, oi), p());
      return;
    }
    if (!navigator.geolocation) {
      c(x);
      return;
    }
    e.value = navigator.geolocation.watchPosition(
      (v) => l(v, p),
      () => c(x),
      {
        enableHighAccuracy: !0,
        timeout: wp,
        maximumAge: Pp
      }
    );
  }, u = () => {
    s.value && (clearTimeout(s.value), s.value = void 0), e.value && (navigator.geolocation.clearWatch(e.value), e.value = void 0), t.value = void 0, r.clear(!0);
  }, d = (p, x, v) => {
    const y = x.getResolutionForExtent(p, v), S = (x.getZoomForResolution(y) ?? 0) - 1;
    return S > 1 ? Math.min(S, oi) : oi;
  }, f = (p) => {
    const x = p.getGeometry(), v = i.getView(), E = i.getSize(), y = x?.getExtent() ?? [];
    if (!x || !v || !E || wi(y))
      return;
    const T = E[0] ?? 0, S = T < Lc ? -130 : 0, w = T < Lc ? 0 : -70, P = d(y, v, E), M = v.getResolutionForZoom(P), U = -w * M, k = -S * M, F = v.getRotation(), R = Math.cos(F), A = Math.sin(F), [b, D] = zt(y);
    if (!b || !D)
      return;
    const O = [
      b - U * R + k * A,
      D - U * A - k * R
    ];
    _(O, P);
  }, g = (p, x) => {
    const v = p.getCenter(), E = (T) => T.every((S) => S === 0);
    if (!v || !x || E(v) || E(x))
      return dn.UNKNOWN;
    const y = Ho(cs(v), cs(x));
    return y <= Rp ? dn.SHORT : y > Sp ? dn.LONG : dn.MID;
  }, m = (p) => p === dn.SHORT || p === dn.UNKNOWN ? Xi : 0, _ = (p, x) => {
    const v = i.getView(), E = g(v, p), y = m(E);
    if (E === dn.LONG) {
      v.animate(
        { zoom: bc, duration: Xi, easing: pt },
        { center: p, duration: Xi, easing: pt },
        { zoom: x, duration: y, easing: pt }
      );
      return;
    }
    v.animate({
      center: p,
      zoom: x,
      duration: y,
      easing: pt
    });
  };
  return Tt(
    () => t.value,
    (p) => {
      const x = !n.value;
      if (n.value = void 0, r.clear(!0), !p)
        return;
      const v = xa(
        p.longitude,
        p.latitude,
        p.altitude,
        p.accuracy
      ), E = ls(v);
      n.value = new st({
        geometry: new Je(E, on)
      }), n.value.set("accuracy", p.accuracy), r.addFeature(n.value), x && _(E, oi);
    }
  ), {
    centerFeatureLocation: f,
    centerFullWorldView: () => _(Fu, bu),
    fitToAllFeatures: a,
    getUserCurrentLocation: () => t.value,
    stopWatchingCurrentLocation: u,
    watchCurrentLocation: h
  };
}
const Ft = (i) => i ? i instanceof Ve ? i.getCoordinates() : i.getCoordinates()[0] ?? [] : [], Pr = (i, e) => {
  const t = (a) => a.length > 1 && a[0] != null && a[1] != null;
  if (!t(i) || !t(e))
    return { deltaX: 0, deltaY: 0 };
  const [n, s] = i, [r, o] = e;
  return { deltaX: n - r, deltaY: s - o };
}, dl = (i, e) => i ** 2 + e ** 2, Fp = (i, e, t) => {
  const { deltaX: n, deltaY: s } = Pr(t, e), r = dl(n, s);
  if (r === 0)
    return e;
  const { deltaX: o, deltaY: a } = Pr(i, e), l = (o * n + a * s) / r, c = Math.max(0, Math.min(1, l)), [h = 0, u = 0] = e;
  return [h + c * n, u + c * s];
}, fl = (i, e) => {
  let t = 1 / 0, n = -1, s = [];
  return i.forEach((r, o) => {
    const a = i[o + 1];
    if (!r || !a)
      return;
    const l = Fp(e, r, a), { deltaX: c, deltaY: h } = Pr(e, l), u = dl(c, h);
    u < t && (t = u, n = o, s = l);
  }), { segmentIndex: n, closest: s, squaredDist: t };
}, bi = (i, e) => i && e && i[0] === e[0] && i[1] === e[1], Jr = (i, e, t) => {
  const n = e * t;
  return i <= n ** 2;
}, bp = (i, e, t, n) => {
  const s = i?.getGeometry();
  return !s || !(s instanceof Ve) && !(s instanceof rt) ? !1 : Ft(s).some((r) => {
    const { deltaX: o, deltaY: a } = Pr(e, r), l = dl(o, a);
    return Jr(l, t, n);
  });
}, Lp = (i, e, t, n) => {
  const s = i?.getGeometry();
  if (s instanceof Ve)
    return !0;
  if (s instanceof rt) {
    const r = Ft(s);
    if (r.length < 2)
      return !1;
    const { squaredDist: o } = fl(r, e);
    return Jr(o, t, n);
  }
  return !1;
}, Mp = (i, e, t, n) => {
  if (!t)
    return new st({
      geometry: new Ve([e])
    });
  const s = t.getGeometry(), r = Ft(s);
  if (!r.length)
    return;
  const { segmentIndex: o, closest: a, squaredDist: l } = fl(r, e);
  return o >= 0 && Jr(l, i, n) ? r.splice(o + 1, 0, a) : r.push(e), s?.setCoordinates(r, on), t;
}, Dp = (i, e, t, n) => {
  if (!t)
    return new st({
      geometry: new rt([[e]])
    });
  const s = t.getGeometry(), r = Ft(s);
  if (!r.length)
    return;
  if (r.length < 3)
    r.push(e);
  else {
    const { segmentIndex: l, closest: c, squaredDist: h } = fl(r, e);
    l >= 0 && Jr(h, i, n) ? r.splice(l + 1, 0, c) : r.splice(r.length - 1, 0, e);
  }
  const o = r[0], a = r[r.length - 1];
  return r.length >= 3 && o && !bi(o, a) && r.push([...o]), s?.setCoordinates([r], on), t;
}, Op = (i, e) => {
  const t = i?.getGeometry(), n = e?.getGeometry();
  if (!t || !n)
    return;
  const s = n.getCoordinates(), o = Ft(t).findIndex((a) => bi(a, s));
  return o === -1 ? void 0 : o;
}, Mc = (i, e) => {
  if (!i || e === void 0)
    return [];
  const t = i.getGeometry();
  return Ft(t)[e] ?? [];
}, Np = (i, e) => (i.splice(e, 1), i), kp = (i, e) => {
  bi(i[0], i[i.length - 1]) && (e = e === i.length - 1 ? 0 : e, i.pop()), i.splice(e, 1);
  const n = i[0];
  return i.length > 2 && !bi(n, i[i.length - 1]) && i.push([...n]), [i];
}, Gp = (i, e) => {
  const t = i?.getGeometry(), n = Ft(t);
  if (t && e >= 0 && e < n.length) {
    const s = t instanceof Ve ? Np(n, e) : kp(n, e);
    t.setCoordinates(s, on);
  }
  return n.length;
}, Bp = (i, e, t) => {
  const n = i?.getGeometry(), s = Ft(n);
  if (n && e >= 0 && e < s.length) {
    s[e] = t;
    const r = n instanceof Ve ? s : [s];
    n.setCoordinates(r, on);
  }
}, Up = (i, e, t, n) => {
  const s = [];
  return Number.isFinite(e) && Number.isFinite(i) && (s.push(e, i), Number.isFinite(n) ? s.push(Number.isFinite(t) ? t : 0, n) : Number.isFinite(t) && s.push(t)), s;
}, Dc = (i) => {
  const e = i.getGeometry();
  if (!e)
    return "";
  const t = (r) => {
    const o = cs(r);
    return Up(...o).join(" ");
  };
  if (e.getType() === "Point") {
    const r = e.getCoordinates();
    return r?.length ? t(r) : "";
  }
  return Ft(e).map((r) => t(r)).join("; ");
}, zp = () => {
  try {
    const i = document.createElement("canvas");
    return !!(window.WebGLRenderingContext && i.getContext("webgl"));
  } catch {
    return !1;
  }
}, $p = (i, e) => {
  if (!i?.coordinates?.length)
    return;
  const t = i.coordinates;
  if (i.type === "Point" && e === ve.POINT && !Array.isArray(t[0]))
    return ls(t);
  let s = Array.isArray(t[0]) && Array.isArray(t[0][0]) ? t[0] : t;
  if (!s?.length)
    return;
  s = s.map((o) => ls(o));
  const r = bi(s[0], s[s.length - 1]);
  if (i.type === "LineString" && e === ve.TRACE && !r && s.length >= 2)
    return s;
  if (i.type === "Polygon" && e === ve.SHAPE && r && s.length >= 3)
    return [s];
};
class Wp {
  constructor() {
    this.dataProjection = void 0, this.defaultFeatureProjection = void 0, this.featureClass = /** @type {FeatureToFeatureClass<FeatureType>} */
    st, this.supportedMediaTypes = null;
  }
  /**
   * Adds the data projection to the read options.
   * @param {Document|Element|Object|string} source Source.
   * @param {ReadOptions} [options] Options.
   * @return {ReadOptions|undefined} Options.
   * @protected
   */
  getReadOptions(e, t) {
    if (t) {
      let n = t.dataProjection ? me(t.dataProjection) : this.readProjection(e);
      t.extent && n && n.getUnits() === "tile-pixels" && (n = me(n), n.setWorldExtent(t.extent)), t = {
        dataProjection: n,
        featureProjection: t.featureProjection
      };
    }
    return this.adaptOptions(t);
  }
  /**
   * Sets the `dataProjection` on the options, if no `dataProjection`
   * is set.
   * @param {WriteOptions|ReadOptions|undefined} options
   *     Options.
   * @protected
   * @return {WriteOptions|ReadOptions|undefined}
   *     Updated options.
   */
  adaptOptions(e) {
    return Object.assign(
      {
        dataProjection: this.dataProjection,
        featureProjection: this.defaultFeatureProjection,
        featureClass: this.featureClass
      },
      e
    );
  }
  /**
   * @abstract
   * @return {Type} The format type.
   */
  getType() {
    return X();
  }
  /**
   * Read a single feature from a source.
   *
   * @abstract
   * @param {Document|Element|Object|string} source Source.
   * @param {ReadOptions} [options] Read options.
   * @return {FeatureType|Array<FeatureType>} Feature.
   */
  readFeature(e, t) {
    return X();
  }
  /**
   * Read all features from a source.
   *
   * @abstract
   * @param {Document|Element|ArrayBuffer|Object|string} source Source.
   * @param {ReadOptions} [options] Read options.
   * @return {Array<FeatureType>} Features.
   */
  readFeatures(e, t) {
    return X();
  }
  /**
   * Read a single geometry from a source.
   *
   * @abstract
   * @param {Document|Element|Object|string} source Source.
   * @param {ReadOptions} [options] Read options.
   * @return {import("../geom/Geometry.js").default} Geometry.
   */
  readGeometry(e, t) {
    return X();
  }
  /**
   * Read the projection from a source.
   *
   * @abstract
   * @param {Document|Element|Object|string} source Source.
   * @return {import("../proj/Projection.js").default|undefined} Projection.
   */
  readProjection(e) {
    return X();
  }
  /**
   * Encode a feature in this format.
   *
   * @abstract
   * @param {Feature} feature Feature.
   * @param {WriteOptions} [options] Write options.
   * @return {string|ArrayBuffer} Result.
   */
  writeFeature(e, t) {
    return X();
  }
  /**
   * Encode an array of features in this format.
   *
   * @abstract
   * @param {Array<Feature>} features Features.
   * @param {WriteOptions} [options] Write options.
   * @return {string|ArrayBuffer} Result.
   */
  writeFeatures(e, t) {
    return X();
  }
  /**
   * Write a single geometry in this format.
   *
   * @abstract
   * @param {import("../geom/Geometry.js").default} geometry Geometry.
   * @param {WriteOptions} [options] Write options.
   * @return {string|ArrayBuffer} Result.
   */
  writeGeometry(e, t) {
    return X();
  }
}
function gl(i, e, t) {
  const n = t ? me(t.featureProjection) : null, s = t ? me(t.dataProjection) : null;
  let r = i;
  if (n && s && !ts(n, s)) {
    e && (r = /** @type {T} */
    i.clone());
    const o = e ? n : s, a = e ? s : n;
    o.getUnits() === "tile-pixels" ? r.transform(o, a) : r.applyTransform(hs(o, a));
  }
  if (e && t && /** @type {WriteOptions} */
  t.decimals !== void 0) {
    const o = Math.pow(
      10,
      /** @type {WriteOptions} */
      t.decimals
    ), a = function(l) {
      for (let c = 0, h = l.length; c < h; ++c)
        l[c] = Math.round(l[c] * o) / o;
      return l;
    };
    r === i && (r = /** @type {T} */
    i.clone()), r.applyTransform(a);
  }
  return r;
}
const Vp = {
  Point: Je,
  LineString: Ve,
  Polygon: rt,
  MultiPoint: Os,
  MultiLineString: ms,
  MultiPolygon: ps
};
function Xp(i, e, t) {
  return Array.isArray(e[0]) ? (Mh(i, 0, e, t) || (i = i.slice(), ia(i, 0, e, t)), i) : (za(i, 0, e, t) || (i = i.slice(), yr(i, 0, e, t)), i);
}
function Lu(i, e) {
  const t = i.geometry;
  if (!t)
    return [];
  if (Array.isArray(t))
    return t.map((r) => Lu({ ...i, geometry: r })).flat();
  const n = t.type === "MultiPolygon" ? "Polygon" : t.type;
  if (n === "GeometryCollection" || n === "Circle")
    throw new Error("Unsupported geometry type: " + n);
  const s = t.layout.length;
  return gl(
    new tt(
      n,
      n === "Polygon" ? Xp(t.flatCoordinates, t.ends, s) : t.flatCoordinates,
      t.ends?.flat(),
      s,
      i.properties || {},
      i.id
    ).enableSimplifyTransformed(),
    !1,
    e
  );
}
function _l(i, e) {
  if (!i)
    return null;
  if (Array.isArray(i)) {
    const n = i.map(
      (s) => _l(s, e)
    );
    return new fs(n);
  }
  const t = Vp[i.type];
  return gl(
    new t(i.flatCoordinates, i.layout || "XY", i.ends),
    !1,
    e
  );
}
class jp extends Wp {
  constructor() {
    super();
  }
  /**
   * @return {import("./Feature.js").Type} Format.
   * @override
   */
  getType() {
    return "json";
  }
  /**
   * Read a feature.  Only works for a single feature. Use `readFeatures` to
   * read a feature collection.
   *
   * @param {ArrayBuffer|Document|Element|Object|string} source Source.
   * @param {import("./Feature.js").ReadOptions} [options] Read options.
   * @return {FeatureType|Array<FeatureType>} Feature.
   * @api
   * @override
   */
  readFeature(e, t) {
    return this.readFeatureFromObject(
      nr(e),
      this.getReadOptions(e, t)
    );
  }
  /**
   * Read all features.  Works with both a single feature and a feature
   * collection.
   *
   * @param {ArrayBuffer|Document|Element|Object|string} source Source.
   * @param {import("./Feature.js").ReadOptions} [options] Read options.
   * @return {Array<FeatureType>} Features.
   * @api
   * @override
   */
  readFeatures(e, t) {
    return this.readFeaturesFromObject(
      nr(e),
      this.getReadOptions(e, t)
    );
  }
  /**
   * @abstract
   * @param {Object} object Object.
   * @param {import("./Feature.js").ReadOptions} [options] Read options.
   * @protected
   * @return {FeatureType|Array<FeatureType>} Feature.
   */
  readFeatureFromObject(e, t) {
    return X();
  }
  /**
   * @abstract
   * @param {Object} object Object.
   * @param {import("./Feature.js").ReadOptions} [options] Read options.
   * @protected
   * @return {Array<FeatureType>} Features.
   */
  readFeaturesFromObject(e, t) {
    return X();
  }
  /**
   * Read a geometry.
   *
   * @param {ArrayBuffer|Document|Element|Object|string} source Source.
   * @param {import("./Feature.js").ReadOptions} [options] Read options.
   * @return {import("../geom/Geometry.js").default} Geometry.
   * @api
   * @override
   */
  readGeometry(e, t) {
    return this.readGeometryFromObject(
      nr(e),
      this.getReadOptions(e, t)
    );
  }
  /**
   * @abstract
   * @param {Object} object Object.
   * @param {import("./Feature.js").ReadOptions} [options] Read options.
   * @protected
   * @return {import("../geom/Geometry.js").default} Geometry.
   */
  readGeometryFromObject(e, t) {
    return X();
  }
  /**
   * Read the projection.
   *
   * @param {ArrayBuffer|Document|Element|Object|string} source Source.
   * @return {import("../proj/Projection.js").default} Projection.
   * @api
   * @override
   */
  readProjection(e) {
    return this.readProjectionFromObject(nr(e));
  }
  /**
   * @abstract
   * @param {Object} object Object.
   * @protected
   * @return {import("../proj/Projection.js").default} Projection.
   */
  readProjectionFromObject(e) {
    return X();
  }
  /**
   * Encode a feature as string.
   *
   * @param {import("../Feature.js").default} feature Feature.
   * @param {import("./Feature.js").WriteOptions} [options] Write options.
   * @return {string} Encoded feature.
   * @api
   * @override
   */
  writeFeature(e, t) {
    return JSON.stringify(this.writeFeatureObject(e, t));
  }
  /**
   * @abstract
   * @param {import("../Feature.js").default} feature Feature.
   * @param {import("./Feature.js").WriteOptions} [options] Write options.
   * @return {Object} Object.
   */
  writeFeatureObject(e, t) {
    return X();
  }
  /**
   * Encode an array of features as string.
   *
   * @param {Array<import("../Feature.js").default>} features Features.
   * @param {import("./Feature.js").WriteOptions} [options] Write options.
   * @return {string} Encoded features.
   * @api
   * @override
   */
  writeFeatures(e, t) {
    return JSON.stringify(this.writeFeaturesObject(e, t));
  }
  /**
   * @abstract
   * @param {Array<import("../Feature.js").default>} features Features.
   * @param {import("./Feature.js").WriteOptions} [options] Write options.
   * @return {Object} Object.
   */
  writeFeaturesObject(e, t) {
    return X();
  }
  /**
   * Encode a geometry as string.
   *
   * @param {import("../geom/Geometry.js").default} geometry Geometry.
   * @param {import("./Feature.js").WriteOptions} [options] Write options.
   * @return {string} Encoded geometry.
   * @api
   * @override
   */
  writeGeometry(e, t) {
    return JSON.stringify(this.writeGeometryObject(e, t));
  }
  /**
   * @abstract
   * @param {import("../geom/Geometry.js").default} geometry Geometry.
   * @param {import("./Feature.js").WriteOptions} [options] Write options.
   * @return {Object} Object.
   */
  writeGeometryObject(e, t) {
    return X();
  }
}
function nr(i) {
  if (typeof i == "string") {
    const e = JSON.parse(i);
    return e || null;
  }
  return i !== null ? i : null;
}
class Oc extends jp {
  /**
   * @param {Options<FeatureType>} [options] Options.
   */
  constructor(e) {
    e = e || {}, super(), this.dataProjection = me(
      e.dataProjection ? e.dataProjection : "EPSG:4326"
    ), e.featureProjection && (this.defaultFeatureProjection = me(e.featureProjection)), e.featureClass && (this.featureClass = e.featureClass), this.geometryName_ = e.geometryName, this.extractGeometryName_ = e.extractGeometryName, this.supportedMediaTypes = [
      "application/geo+json",
      "application/vnd.geo+json"
    ];
  }
  /**
   * @param {Object} object Object.
   * @param {import("./Feature.js").ReadOptions} [options] Read options.
   * @protected
   * @return {FeatureType|Array<FeatureType>} Feature.
   * @override
   */
  readFeatureFromObject(e, t) {
    let n = null;
    e.type === "Feature" ? n = /** @type {GeoJSONFeature} */
    e : n = {
      type: "Feature",
      geometry: (
        /** @type {GeoJSONGeometry} */
        e
      ),
      properties: null
    };
    const s = ml(n.geometry);
    if (this.featureClass === tt)
      return (
        /** @type {FeatureType|Array<FeatureType>} */
        Lu(
          {
            geometry: s,
            id: n.id,
            properties: n.properties
          },
          t
        )
      );
    const r = new st();
    return this.geometryName_ ? r.setGeometryName(this.geometryName_) : this.extractGeometryName_ && n.geometry_name && r.setGeometryName(n.geometry_name), r.setGeometry(_l(s, t)), "id" in n && r.setId(n.id), n.properties && r.setProperties(n.properties, !0), /** @type {FeatureType|Array<FeatureType>} */
    r;
  }
  /**
   * @param {Object} object Object.
   * @param {import("./Feature.js").ReadOptions} [options] Read options.
   * @protected
   * @return {Array<FeatureType>} Features.
   * @override
   */
  readFeaturesFromObject(e, t) {
    const n = (
      /** @type {GeoJSONObject} */
      e
    );
    let s = null;
    if (n.type === "FeatureCollection") {
      const r = (
        /** @type {GeoJSONFeatureCollection} */
        e
      );
      s = [];
      const o = r.features;
      for (let a = 0, l = o.length; a < l; ++a) {
        const c = this.readFeatureFromObject(
          o[a],
          t
        );
        c && s.push(c);
      }
    } else
      s = [this.readFeatureFromObject(e, t)];
    return (
      /** @type {Array<FeatureType>} */
      s.flat()
    );
  }
  /**
   * @param {GeoJSONGeometry} object Object.
   * @param {import("./Feature.js").ReadOptions} [options] Read options.
   * @protected
   * @return {import("../geom/Geometry.js").default} Geometry.
   * @override
   */
  readGeometryFromObject(e, t) {
    return Yp(e, t);
  }
  /**
   * @param {Object} object Object.
   * @protected
   * @return {import("../proj/Projection.js").default} Projection.
   * @override
   */
  readProjectionFromObject(e) {
    const t = e.crs;
    let n;
    if (t)
      if (t.type == "name")
        n = me(t.properties.name);
      else if (t.type === "EPSG")
        n = me("EPSG:" + t.properties.code);
      else
        throw new Error("Unknown SRS type");
    else
      n = this.dataProjection;
    return (
      /** @type {import("../proj/Projection.js").default} */
      n
    );
  }
  /**
   * Encode a feature as a GeoJSON Feature object.
   *
   * @param {import("../Feature.js").default} feature Feature.
   * @param {import("./Feature.js").WriteOptions} [options] Write options.
   * @return {GeoJSONFeature} Object.
   * @api
   * @override
   */
  writeFeatureObject(e, t) {
    t = this.adaptOptions(t);
    const n = {
      type: "Feature",
      geometry: null,
      properties: null
    }, s = e.getId();
    if (s !== void 0 && (n.id = s), !e.hasProperties())
      return n;
    const r = e.getProperties(), o = e.getGeometry();
    return o && (n.geometry = fa(o, t), delete r[e.getGeometryName()]), Bn(r) || (n.properties = r), n;
  }
  /**
   * Encode an array of features as a GeoJSON object.
   *
   * @param {Array<import("../Feature.js").default>} features Features.
   * @param {import("./Feature.js").WriteOptions} [options] Write options.
   * @return {GeoJSONFeatureCollection} GeoJSON Object.
   * @api
   * @override
   */
  writeFeaturesObject(e, t) {
    t = this.adaptOptions(t);
    const n = [];
    for (let s = 0, r = e.length; s < r; ++s)
      n.push(this.writeFeatureObject(e[s], t));
    return {
      type: "FeatureCollection",
      features: n
    };
  }
  /**
   * Encode a geometry as a GeoJSON object.
   *
   * @param {import("../geom/Geometry.js").default} geometry Geometry.
   * @param {import("./Feature.js").WriteOptions} [options] Write options.
   * @return {GeoJSONGeometry|GeoJSONGeometryCollection} Object.
   * @api
   * @override
   */
  writeGeometryObject(e, t) {
    return fa(e, this.adaptOptions(t));
  }
}
function ml(i, e) {
  if (!i)
    return null;
  let t;
  switch (i.type) {
    case "Point": {
      t = Kp(
        /** @type {GeoJSONPoint} */
        i
      );
      break;
    }
    case "LineString": {
      t = Hp(
        /** @type {GeoJSONLineString} */
        i
      );
      break;
    }
    case "Polygon": {
      t = e0(
        /** @type {GeoJSONPolygon} */
        i
      );
      break;
    }
    case "MultiPoint": {
      t = Jp(
        /** @type {GeoJSONMultiPoint} */
        i
      );
      break;
    }
    case "MultiLineString": {
      t = qp(
        /** @type {GeoJSONMultiLineString} */
        i
      );
      break;
    }
    case "MultiPolygon": {
      t = Qp(
        /** @type {GeoJSONMultiPolygon} */
        i
      );
      break;
    }
    case "GeometryCollection": {
      t = Zp(
        /** @type {GeoJSONGeometryCollection} */
        i
      );
      break;
    }
    default:
      throw new Error("Unsupported GeoJSON type: " + i.type);
  }
  return t;
}
function Yp(i, e) {
  const t = ml(i);
  return _l(t, e);
}
function Zp(i, e) {
  return i.geometries.map(
    /**
     * @param {GeoJSONGeometry} geometry Geometry.
     * @return {import("./Feature.js").GeometryObject} geometry Geometry.
     */
    function(n) {
      return ml(n);
    }
  );
}
function Kp(i) {
  const e = i.coordinates;
  return {
    type: "Point",
    flatCoordinates: e,
    layout: Yn(e.length)
  };
}
function Hp(i) {
  const e = i.coordinates, t = e.flat();
  return {
    type: "LineString",
    flatCoordinates: t,
    ends: [t.length],
    layout: Yn(e[0]?.length || 2)
  };
}
function qp(i) {
  const e = i.coordinates, t = e[0]?.[0]?.length || 2, n = [], s = Ds(n, 0, e, t);
  return {
    type: "MultiLineString",
    flatCoordinates: n,
    ends: s,
    layout: Yn(t)
  };
}
function Jp(i) {
  const e = i.coordinates;
  return {
    type: "MultiPoint",
    flatCoordinates: e.flat(),
    layout: Yn(e[0]?.length || 2)
  };
}
function Qp(i) {
  const e = i.coordinates, t = [], n = e[0]?.[0]?.[0].length || 2, s = Rh(
    t,
    0,
    e,
    n
  );
  return {
    type: "MultiPolygon",
    flatCoordinates: t,
    ends: s,
    layout: Yn(n)
  };
}
function e0(i) {
  const e = i.coordinates, t = [], n = e[0]?.[0]?.length, s = Ds(t, 0, e, n);
  return {
    type: "Polygon",
    flatCoordinates: t,
    ends: s,
    layout: Yn(n)
  };
}
function fa(i, e) {
  i = gl(i, !0, e);
  const t = i.getType();
  let n;
  switch (t) {
    case "Point": {
      n = o0(
        /** @type {import("../geom/Point.js").default} */
        i
      );
      break;
    }
    case "LineString": {
      n = n0(
        /** @type {import("../geom/LineString.js").default} */
        i
      );
      break;
    }
    case "Polygon": {
      n = a0(
        /** @type {import("../geom/Polygon.js").default} */
        i,
        e
      );
      break;
    }
    case "MultiPoint": {
      n = s0(
        /** @type {import("../geom/MultiPoint.js").default} */
        i
      );
      break;
    }
    case "MultiLineString": {
      n = i0(
        /** @type {import("../geom/MultiLineString.js").default} */
        i
      );
      break;
    }
    case "MultiPolygon": {
      n = r0(
        /** @type {import("../geom/MultiPolygon.js").default} */
        i,
        e
      );
      break;
    }
    case "GeometryCollection": {
      n = t0(
        /** @type {import("../geom/GeometryCollection.js").default} */
        i,
        e
      );
      break;
    }
    case "Circle": {
      n = {
        type: "GeometryCollection",
        geometries: []
      };
      break;
    }
    default:
      throw new Error("Unsupported geometry type: " + t);
  }
  return n;
}
function t0(i, e) {
  return e = Object.assign({}, e), delete e.featureProjection, {
    type: "GeometryCollection",
    geometries: i.getGeometriesArray().map(function(n) {
      return fa(n, e);
    })
  };
}
function n0(i, e) {
  return {
    type: "LineString",
    coordinates: i.getCoordinates()
  };
}
function i0(i, e) {
  return {
    type: "MultiLineString",
    coordinates: i.getCoordinates()
  };
}
function s0(i, e) {
  return {
    type: "MultiPoint",
    coordinates: i.getCoordinates()
  };
}
function r0(i, e) {
  let t;
  return e && (t = e.rightHanded), {
    type: "MultiPolygon",
    coordinates: i.getCoordinates(t)
  };
}
function o0(i, e) {
  return {
    type: "Point",
    coordinates: i.getCoordinates()
  };
}
function a0(i, e) {
  let t;
  return e && (t = e.rightHanded), {
    type: "Polygon",
    coordinates: i.getCoordinates(t)
  };
}
const Nc = "EPSG:4326", Jt = "odk_feature_id", Qt = "odk_selected_vertex_index", _i = "odk_saved_id", ur = "odk_selected_id", Rs = "odk_is_selected";
function l0(i, e, t, n) {
  const s = lt(), r = lt(), o = (y) => {
    const T = new Oc().readFeature(y, {
      dataProjection: Nc,
      featureProjection: i.getView().getProjection()
    });
    return Array.isArray(T) ? T[0] : T;
  }, a = (y, T) => {
    if (y === ve.SHAPE)
      return new st({
        geometry: new rt(T, on)
      });
    if (y === ve.TRACE)
      return new st({
        geometry: new Ve(T, on)
      });
    if (y === ve.POINT)
      return new st({ geometry: new Je(T, on) });
  }, l = (y, T) => {
    y.clear(!0), y.addFeature(T), _(T), t.fitToAllFeatures(y);
  }, c = (y, T) => {
    const S = new Oc().readFeatures(T, {
      dataProjection: Nc,
      featureProjection: i.getView().getProjection()
    });
    S.forEach((w) => {
      w.get(Jt) || w.set(Jt, crypto.randomUUID());
    }), y.addFeatures(S), t.fitToAllFeatures(y);
  }, h = (y, T) => {
    e.canSelectFeatureOrVertex && (s.value?.set(Rs, !1), s.value?.set(Qt, void 0), y?.set(Qt, T), y?.set(Rs, !0)), s.value = y;
  }, u = () => {
    const y = r.value?.get(Jt), T = s.value?.get(Jt);
    return y?.length > 0 && y === T;
  }, d = (y, T) => {
    n.updateStyleVariables && n.updateStyleVariables({
      [y]: T?.get(Jt) ?? ""
    });
  }, f = (y, T, S = !1) => {
    if (!T || y.isEmpty()) {
      _(void 0);
      return;
    }
    const w = y.forEachFeature((P) => {
      if (P.getProperties()?.[Ti] === T.properties?.[Ti])
        return P;
    });
    w && (_(w), (S || !g(w)) && t.centerFeatureLocation(w));
  }, g = (y) => {
    const T = i.getView().calculateExtent(i.getSize()), S = y.getGeometry()?.getExtent();
    return S ? Ke(T, S) : !1;
  }, m = () => _(s.value), _ = (y) => r.value = y, p = () => s.value, x = () => r.value, v = () => x()?.getProperties()?.[Ti] ?? "", E = () => s.value?.getProperties();
  return Tt(
    () => s.value,
    (y) => {
      d(ur, y), y && !e.canSelectFeatureOrVertex && t.centerFeatureLocation(y);
    }
  ), Tt(
    () => r.value,
    (y) => {
      d(_i, y);
    }
  ), {
    createFeatureFromGeoJSON: o,
    createFeatureFromType: a,
    findAndSaveFeature: f,
    getSavedFeature: x,
    getSavedFeatureValue: v,
    getSelectedFeature: p,
    getSelectedFeatureProperties: E,
    isSavedFeatureSelected: u,
    loadAndSaveSingleFeature: l,
    loadFeatureCollection: c,
    saveFeature: _,
    saveSelectedFeature: m,
    selectFeature: h
  };
}
function yi(i, e) {
  const t = i.length;
  return e < 0 ? i[e + t] : e >= t ? i[e - t] : i[e];
}
function Ji(i, e) {
  const t = i.length;
  let n = Math.floor(e);
  const s = e - n;
  n >= t ? n -= t : n < 0 && (n += t);
  let r = n + 1;
  r >= t && (r -= t);
  const o = i[n], a = o[0], l = o[1], c = i[r], h = c[0] - a, u = c[1] - l;
  return [a + h * s, l + u * s];
}
const ir = {
  index: -1,
  endIndex: NaN,
  closestTargetDistance: 1 / 0
};
function c0(i, e, t, n) {
  const s = i[0], r = i[1];
  let o = 1 / 0, a = -1, l = NaN;
  for (let u = 0; u < e.targets.length; ++u) {
    const d = e.targets[u], f = d.coordinates;
    let g = 1 / 0, m;
    for (let _ = 0; _ < f.length - 1; ++_) {
      const p = f[_], x = f[_ + 1], v = Du(s, r, p, x);
      v.squaredDistance < g && (g = v.squaredDistance, m = _ + v.along);
    }
    g < o && (o = g, d.ring && e.targetIndex === u && (d.endIndex > d.startIndex ? m < d.startIndex && (m += f.length) : d.endIndex < d.startIndex && m > d.startIndex && (m -= f.length)), l = m, a = u);
  }
  const c = e.targets[a];
  let h = c.ring;
  if (e.targetIndex === a && h) {
    const u = Ji(
      c.coordinates,
      l
    ), d = t.getPixelFromCoordinate(u), f = t.getPixelFromCoordinate(e.startCoord);
    Yi(d, f) > n && (h = !1);
  }
  if (h) {
    const u = c.coordinates, d = u.length, f = c.startIndex, g = l;
    if (f < g) {
      const m = or(
        u,
        f,
        g
      );
      or(
        u,
        f,
        g - d
      ) < m && (l -= d);
    } else {
      const m = or(
        u,
        f,
        g
      );
      or(
        u,
        f,
        g + d
      ) < m && (l += d);
    }
  }
  return ir.index = a, ir.endIndex = l, ir.closestTargetDistance = o, ir;
}
function h0(i, e) {
  const t = [];
  for (let n = 0; n < e.length; ++n) {
    const r = e[n].getGeometry();
    Mu(i, r, t);
  }
  return t;
}
function Mu(i, e, t) {
  if (e instanceof Ve) {
    sr(i, e.getCoordinates(), !1, t);
    return;
  }
  if (e instanceof ms) {
    const n = e.getCoordinates();
    for (let s = 0, r = n.length; s < r; ++s)
      sr(i, n[s], !1, t);
    return;
  }
  if (e instanceof rt) {
    const n = e.getCoordinates();
    for (let s = 0, r = n.length; s < r; ++s)
      sr(i, n[s], !0, t);
    return;
  }
  if (e instanceof ps) {
    const n = e.getCoordinates();
    for (let s = 0, r = n.length; s < r; ++s) {
      const o = n[s];
      for (let a = 0, l = o.length; a < l; ++a)
        sr(i, o[a], !0, t);
    }
    return;
  }
  if (e instanceof fs) {
    const n = e.getGeometries();
    for (let s = 0; s < n.length; ++s)
      Mu(i, n[s], t);
    return;
  }
}
function sr(i, e, t, n) {
  const s = i[0], r = i[1];
  for (let o = 0, a = e.length - 1; o < a; ++o) {
    const l = e[o], c = e[o + 1], h = Du(s, r, l, c);
    if (h.squaredDistance === 0) {
      const u = o + h.along;
      n.push({
        coordinates: e,
        ring: t,
        startIndex: u,
        endIndex: u
      });
      return;
    }
  }
}
function rr(i, e) {
  return tn(i[0], i[1], e[0], e[1]);
}
function or(i, e, t) {
  let n, s;
  e < t ? (n = e, s = t) : (n = t, s = e);
  const r = Math.ceil(n), o = Math.floor(s);
  if (r > o) {
    const l = Ji(i, n), c = Ji(i, s);
    return rr(l, c);
  }
  let a = 0;
  if (n < r) {
    const l = Ji(i, n), c = yi(i, r);
    a += rr(l, c);
  }
  if (o < s) {
    const l = yi(i, o), c = Ji(i, s);
    a += rr(l, c);
  }
  for (let l = r; l < o - 1; ++l) {
    const c = yi(i, l), h = yi(i, l + 1);
    a += rr(c, h);
  }
  return a;
}
const Io = { along: 0, squaredDistance: 0 };
function Du(i, e, t, n) {
  const s = t[0], r = t[1], o = n[0], a = n[1], l = o - s, c = a - r;
  let h = 0, u = s, d = r;
  return (l !== 0 || c !== 0) && (h = de(((i - s) * l + (e - r) * c) / (l * l + c * c), 0, 1), u += l * h, d += c * h), Io.along = h, Io.squaredDistance = As(tn(i, e, u, d), 10), Io;
}
const kc = 0, ss = 1, Gc = [0, 0, 0, 0], vi = [], Ao = {
  /**
   * Triggered upon feature modification start
   * @event ModifyEvent#modifystart
   * @api
   */
  MODIFYSTART: "modifystart",
  /**
   * Triggered upon feature modification end
   * @event ModifyEvent#modifyend
   * @api
   */
  MODIFYEND: "modifyend"
};
function Fo(i, e, t) {
  let n;
  switch (e) {
    case "LineString":
      n = i;
      break;
    case "MultiLineString":
    case "Polygon":
      n = i[t[0]];
      break;
    case "MultiPolygon":
      n = i[t[1]][t[0]];
      break;
  }
  return n;
}
class bo extends At {
  /**
   * @param {ModifyEventType} type Type.
   * @param {Collection<Feature>} features
   * The features modified.
   * @param {import("../MapBrowserEvent.js").default} mapBrowserEvent
   * Associated {@link module:ol/MapBrowserEvent~MapBrowserEvent}.
   */
  constructor(e, t, n) {
    super(e), this.features = t, this.mapBrowserEvent = n;
  }
}
class u0 extends Kn {
  /**
   * @param {Options} options Options.
   */
  constructor(e) {
    super(
      /** @type {import("./Pointer.js").Options} */
      e
    ), this.on, this.once, this.un, this.boundHandleFeatureChange_ = this.handleFeatureChange_.bind(this), this.condition_ = e.condition ? e.condition : xu, this.defaultDeleteCondition_ = function(n) {
      return Am(n) && Mm(n);
    }, this.deleteCondition_ = e.deleteCondition ? e.deleteCondition : this.defaultDeleteCondition_, this.insertVertexCondition_ = e.insertVertexCondition ? e.insertVertexCondition : wr, this.vertexFeature_ = null, this.vertexSegments_ = null, this.lastCoordinate_ = [0, 0], this.ignoreNextSingleClick_ = !1, this.featuresBeingModified_ = null, this.rBush_ = new aa(), this.pixelTolerance_ = e.pixelTolerance !== void 0 ? e.pixelTolerance : 10, this.snappedToVertex_ = !1, this.changingFeature_ = !1, this.dragSegments_ = [], this.overlay_ = new Hr({
      source: new Ya({
        useSpatialIndex: !1,
        wrapX: !!e.wrapX
      }),
      style: e.style ? e.style : f0(),
      updateWhileAnimating: !0,
      updateWhileInteracting: !0
    }), this.SEGMENT_WRITERS_ = {
      Point: this.writePointGeometry_.bind(this),
      LineString: this.writeLineStringGeometry_.bind(this),
      LinearRing: this.writeLineStringGeometry_.bind(this),
      Polygon: this.writePolygonGeometry_.bind(this),
      MultiPoint: this.writeMultiPointGeometry_.bind(this),
      MultiLineString: this.writeMultiLineStringGeometry_.bind(this),
      MultiPolygon: this.writeMultiPolygonGeometry_.bind(this),
      Circle: this.writeCircleGeometry_.bind(this),
      GeometryCollection: this.writeGeometryCollectionGeometry_.bind(this)
    }, this.source_ = null, this.traceSource_ = e.traceSource || e.source || null, this.traceCondition_, this.setTrace(e.trace || !1), this.traceState_ = { active: !1 }, this.traceSegments_ = null, this.hitDetection_ = null;
    let t;
    if (e.features ? t = e.features : e.source && (this.source_ = e.source, t = new Ue(this.source_.getFeatures()), this.source_.addEventListener(
      be.ADDFEATURE,
      this.handleSourceAdd_.bind(this)
    ), this.source_.addEventListener(
      be.REMOVEFEATURE,
      this.handleSourceRemove_.bind(this)
    )), !t)
      throw new Error(
        "The modify interaction requires features, a source or a layer"
      );
    e.hitDetection && (this.hitDetection_ = e.hitDetection), this.features_ = t, this.features_.forEach(this.addFeature_.bind(this)), this.features_.addEventListener(
      $e.ADD,
      this.handleFeatureAdd_.bind(this)
    ), this.features_.addEventListener(
      $e.REMOVE,
      this.handleFeatureRemove_.bind(this)
    ), this.lastPointerEvent_ = null, this.delta_ = [0, 0], this.snapToPointer_ = e.snapToPointer === void 0 ? !this.hitDetection_ : e.snapToPointer;
  }
  /**
   * Toggle tracing mode or set a tracing condition.
   *
   * @param {boolean|import("../events/condition.js").Condition} trace A boolean to toggle tracing mode or an event
   *     condition that will be checked when a feature is clicked to determine if tracing should be active.
   */
  setTrace(e) {
    let t;
    e ? e === !0 ? t = wr : t = e : t = Lm, this.traceCondition_ = t;
  }
  /**
   * @param {Feature} feature Feature.
   * @private
   */
  addFeature_(e) {
    const t = e.getGeometry();
    if (t) {
      const s = this.SEGMENT_WRITERS_[t.getType()];
      s && s(e, t);
    }
    const n = this.getMap();
    n && n.isRendered() && this.getActive() && this.handlePointerAtPixel_(this.lastCoordinate_), e.addEventListener(Y.CHANGE, this.boundHandleFeatureChange_);
  }
  /**
   * @param {import("../MapBrowserEvent.js").default} evt Map browser event.
   * @param {Array<SegmentData>} segments The segments subject to modification.
   * @private
   */
  willModifyFeatures_(e, t) {
    if (!this.featuresBeingModified_) {
      this.featuresBeingModified_ = new Ue();
      const n = this.featuresBeingModified_.getArray();
      for (let s = 0, r = t.length; s < r; ++s) {
        const o = t[s].feature;
        o && !n.includes(o) && this.featuresBeingModified_.push(o);
      }
      this.featuresBeingModified_.getLength() === 0 ? this.featuresBeingModified_ = null : this.dispatchEvent(
        new bo(
          Ao.MODIFYSTART,
          this.featuresBeingModified_,
          e
        )
      );
    }
  }
  /**
   * @param {Feature} feature Feature.
   * @private
   */
  removeFeature_(e) {
    this.removeFeatureSegmentData_(e), this.vertexFeature_ && this.features_.getLength() === 0 && (this.overlay_.getSource().removeFeature(this.vertexFeature_), this.vertexFeature_ = null), e.removeEventListener(
      Y.CHANGE,
      this.boundHandleFeatureChange_
    );
  }
  /**
   * @param {Feature} feature Feature.
   * @private
   */
  removeFeatureSegmentData_(e) {
    const t = this.rBush_, n = [];
    t.forEach(
      /**
       * @param {SegmentData} node RTree node.
       */
      function(s) {
        e === s.feature && n.push(s);
      }
    );
    for (let s = n.length - 1; s >= 0; --s) {
      const r = n[s];
      for (let o = this.dragSegments_.length - 1; o >= 0; --o)
        this.dragSegments_[o][0] === r && this.dragSegments_.splice(o, 1);
      t.remove(r);
    }
  }
  /**
   * Activate or deactivate the interaction.
   * @param {boolean} active Active.
   * @observable
   * @api
   * @override
   */
  setActive(e) {
    this.vertexFeature_ && !e && (this.overlay_.getSource().removeFeature(this.vertexFeature_), this.vertexFeature_ = null), super.setActive(e);
  }
  /**
   * Remove the interaction from its current map and attach it to the new map.
   * Subclasses may set up event handlers to get notified about changes to
   * the map here.
   * @param {import("../Map.js").default} map Map.
   * @override
   */
  setMap(e) {
    this.overlay_.setMap(e), super.setMap(e);
  }
  /**
   * Get the overlay layer that this interaction renders the modification point or vertex to.
   * @return {VectorLayer} Overlay layer.
   * @api
   */
  getOverlay() {
    return this.overlay_;
  }
  /**
   * @param {import("../source/Vector.js").VectorSourceEvent} event Event.
   * @private
   */
  handleSourceAdd_(e) {
    e.feature && this.features_.push(e.feature);
  }
  /**
   * @param {import("../source/Vector.js").VectorSourceEvent} event Event.
   * @private
   */
  handleSourceRemove_(e) {
    e.feature && this.features_.remove(e.feature);
  }
  /**
   * @param {import("../Collection.js").CollectionEvent<Feature>} evt Event.
   * @private
   */
  handleFeatureAdd_(e) {
    this.addFeature_(e.element);
  }
  /**
   * @param {import("../events/Event.js").default} evt Event.
   * @private
   */
  handleFeatureChange_(e) {
    if (!this.changingFeature_) {
      const t = (
        /** @type {Feature} */
        e.target
      );
      this.removeFeature_(t), this.addFeature_(t);
    }
  }
  /**
   * @param {import("../Collection.js").CollectionEvent<Feature>} evt Event.
   * @private
   */
  handleFeatureRemove_(e) {
    this.removeFeature_(e.element);
  }
  /**
   * @param {Feature} feature Feature
   * @param {Point} geometry Geometry.
   * @private
   */
  writePointGeometry_(e, t) {
    const n = t.getCoordinates(), s = {
      feature: e,
      geometry: t,
      segment: [n, n]
    };
    this.rBush_.insert(t.getExtent(), s);
  }
  /**
   * @param {Feature} feature Feature
   * @param {import("../geom/MultiPoint.js").default} geometry Geometry.
   * @private
   */
  writeMultiPointGeometry_(e, t) {
    const n = t.getCoordinates();
    for (let s = 0, r = n.length; s < r; ++s) {
      const o = n[s], a = {
        feature: e,
        geometry: t,
        depth: [s],
        index: s,
        segment: [o, o]
      };
      this.rBush_.insert(t.getExtent(), a);
    }
  }
  /**
   * @param {Feature} feature Feature
   * @param {import("../geom/LineString.js").default} geometry Geometry.
   * @private
   */
  writeLineStringGeometry_(e, t) {
    const n = t.getCoordinates();
    for (let s = 0, r = n.length - 1; s < r; ++s) {
      const o = n.slice(s, s + 2), a = {
        feature: e,
        geometry: t,
        index: s,
        segment: o
      };
      this.rBush_.insert(Qe(o), a);
    }
  }
  /**
   * @param {Feature} feature Feature
   * @param {import("../geom/MultiLineString.js").default} geometry Geometry.
   * @private
   */
  writeMultiLineStringGeometry_(e, t) {
    const n = t.getCoordinates();
    for (let s = 0, r = n.length; s < r; ++s) {
      const o = n[s];
      for (let a = 0, l = o.length - 1; a < l; ++a) {
        const c = o.slice(a, a + 2), h = {
          feature: e,
          geometry: t,
          depth: [s],
          index: a,
          segment: c
        };
        this.rBush_.insert(Qe(c), h);
      }
    }
  }
  /**
   * @param {Feature} feature Feature
   * @param {import("../geom/Polygon.js").default} geometry Geometry.
   * @private
   */
  writePolygonGeometry_(e, t) {
    const n = t.getCoordinates();
    for (let s = 0, r = n.length; s < r; ++s) {
      const o = n[s];
      for (let a = 0, l = o.length - 1; a < l; ++a) {
        const c = o.slice(a, a + 2), h = {
          feature: e,
          geometry: t,
          depth: [s],
          index: a,
          segment: c
        };
        this.rBush_.insert(Qe(c), h);
      }
    }
  }
  /**
   * @param {Feature} feature Feature
   * @param {import("../geom/MultiPolygon.js").default} geometry Geometry.
   * @private
   */
  writeMultiPolygonGeometry_(e, t) {
    const n = t.getCoordinates();
    for (let s = 0, r = n.length; s < r; ++s) {
      const o = n[s];
      for (let a = 0, l = o.length; a < l; ++a) {
        const c = o[a];
        for (let h = 0, u = c.length - 1; h < u; ++h) {
          const d = c.slice(h, h + 2), f = {
            feature: e,
            geometry: t,
            depth: [a, s],
            index: h,
            segment: d
          };
          this.rBush_.insert(Qe(d), f);
        }
      }
    }
  }
  /**
   * We convert a circle into two segments.  The segment at index
   * {@link CIRCLE_CENTER_INDEX} is the
   * circle's center (a point).  The segment at index
   * {@link CIRCLE_CIRCUMFERENCE_INDEX} is
   * the circumference, and is not a line segment.
   *
   * @param {Feature} feature Feature.
   * @param {import("../geom/Circle.js").default} geometry Geometry.
   * @private
   */
  writeCircleGeometry_(e, t) {
    const n = t.getCenter(), s = {
      feature: e,
      geometry: t,
      index: kc,
      segment: [n, n]
    }, r = {
      feature: e,
      geometry: t,
      index: ss,
      segment: [n, n]
    }, o = [s, r];
    s.featureSegments = o, r.featureSegments = o, this.rBush_.insert(Qi(n), s);
    let a = (
      /** @type {import("../geom/Geometry.js").default} */
      t
    );
    this.rBush_.insert(a.getExtent(), r);
  }
  /**
   * @param {Feature} feature Feature
   * @param {import("../geom/GeometryCollection.js").default} geometry Geometry.
   * @private
   */
  writeGeometryCollectionGeometry_(e, t) {
    const n = t.getGeometriesArray();
    for (let s = 0; s < n.length; ++s) {
      const r = n[s], o = this.SEGMENT_WRITERS_[r.getType()];
      o(e, r);
    }
  }
  /**
   * @param {import("../coordinate.js").Coordinate} coordinates Coordinates.
   * @param {Array<Feature>} features The features being modified.
   * @param {Array<import("../geom/SimpleGeometry.js").default>} geometries The geometries being modified.
   * @param {boolean} existing The vertex represents an existing vertex.
   * @return {Feature} Vertex feature.
   * @private
   */
  createOrUpdateVertexFeature_(e, t, n, s) {
    let r = this.vertexFeature_;
    return r ? r.getGeometry().setCoordinates(e) : (r = new st(new Je(e)), this.vertexFeature_ = r, this.overlay_.getSource().addFeature(r)), r.set("features", t), r.set("geometries", n), r.set("existing", s), r;
  }
  /**
   * Handles the {@link module:ol/MapBrowserEvent~MapBrowserEvent map browser event} and may modify the geometry.
   * @param {import("../MapBrowserEvent.js").default} mapBrowserEvent Map browser event.
   * @return {boolean} `false` to stop event propagation.
   * @override
   */
  handleEvent(e) {
    if (!e.originalEvent)
      return !0;
    this.lastPointerEvent_ = e;
    let t;
    return !e.map.getView().getInteracting() && e.type == le.POINTERMOVE && !this.handlingDownUpSequence && this.handlePointerMove_(e), this.vertexFeature_ && this.deleteCondition_(e) && (e.type != le.SINGLECLICK || !this.ignoreNextSingleClick_ ? t = this.removePoint() : t = !0), e.type == le.SINGLECLICK && (this.ignoreNextSingleClick_ = !1), super.handleEvent(e) && !t;
  }
  /**
   * @param {import("../coordinate.js").Coordinate} pixelCoordinate Pixel coordinate.
   * @return {Array<SegmentData>|undefined} Insert vertices and update drag segments.
   * @private
   */
  findInsertVerticesAndUpdateDragSegments_(e) {
    if (this.handlePointerAtPixel_(e), this.dragSegments_.length = 0, this.featuresBeingModified_ = null, !this.vertexFeature_)
      return;
    this.getMap().getView().getProjection();
    const n = [], s = this.vertexFeature_.getGeometry().getCoordinates(), r = Qe([s]), o = this.rBush_.getInExtent(r), a = {};
    o.sort(d0);
    for (let l = 0, c = o.length; l < c; ++l) {
      const h = o[l], u = h.segment;
      let d = z(h.geometry);
      const f = h.depth;
      if (f && (d += "-" + f.join("-")), a[d] || (a[d] = new Array(2)), h.geometry.getType() === "Circle" && h.index === ss) {
        const g = Uc(
          e,
          h
        );
        Ze(g, s) && !a[d][0] && (this.dragSegments_.push([h, 0]), a[d][0] = h);
        continue;
      }
      if (Ze(u[0], s) && !a[d][0]) {
        this.dragSegments_.push([h, 0]), a[d][0] = h;
        continue;
      }
      if (Ze(u[1], s) && !a[d][1]) {
        if (a[d][0] && a[d][0].index === 0) {
          let g = h.geometry.getCoordinates();
          switch (h.geometry.getType()) {
            // prevent dragging closed linestrings by the connecting node
            case "LineString":
            case "MultiLineString":
              continue;
            // if dragging the first vertex of a polygon, ensure the other segment
            // belongs to the closing vertex of the linear ring
            case "MultiPolygon":
              g = g[f[1]];
            /* falls through */
            case "Polygon":
              if (h.index !== g[f[0]].length - 2)
                continue;
              break;
          }
        }
        this.dragSegments_.push([h, 1]), a[d][1] = h;
        continue;
      }
      z(u) in this.vertexSegments_ && !a[d][0] && !a[d][1] && n.push(h);
    }
    return n;
  }
  /**
   * @private
   */
  deactivateTrace_() {
    this.traceState_ = { active: !1 };
  }
  /**
   * Update the trace.
   * @param {import("../MapBrowserEvent.js").default} event Event.
   * @private
   */
  updateTrace_(e) {
    const t = this.traceState_;
    if (!t.active)
      return;
    if (t.targetIndex === -1) {
      const r = e.map.getPixelFromCoordinate(t.startCoord);
      if (Yi(r, e.pixel) < this.pixelTolerance_)
        return;
    }
    const n = c0(
      e.coordinate,
      t,
      e.map,
      this.pixelTolerance_
    );
    if (t.targetIndex === -1 && Math.sqrt(n.closestTargetDistance) / e.map.getView().getResolution() > this.pixelTolerance_)
      return;
    if (t.targetIndex !== n.index) {
      if (t.targetIndex !== -1) {
        const o = t.targets[t.targetIndex];
        this.removeTracedCoordinates_(o.startIndex, o.endIndex);
      } else
        for (const o of this.traceSegments_) {
          const a = o[0], l = a.geometry, c = o[1], h = l.getCoordinates();
          Fo(
            h,
            l.getType(),
            a.depth
          ).splice(a.index + c, 1), l.setCoordinates(h), c === 0 && (a.index -= 1);
        }
      const r = t.targets[n.index];
      this.addTracedCoordinates_(
        r,
        r.startIndex,
        n.endIndex
      );
    } else {
      const r = t.targets[t.targetIndex];
      this.addOrRemoveTracedCoordinates_(r, n.endIndex);
    }
    t.targetIndex = n.index;
    const s = t.targets[t.targetIndex];
    s.endIndex = n.endIndex;
  }
  getTraceCandidates_(e) {
    const t = this.getMap(), n = this.pixelTolerance_, s = t.getCoordinateFromPixel([
      e.pixel[0] - n,
      e.pixel[1] + n
    ]), r = t.getCoordinateFromPixel([
      e.pixel[0] + n,
      e.pixel[1] - n
    ]), o = Qe([s, r]);
    return this.traceSource_.getFeaturesInExtent(o);
  }
  /**
   * Activate or deactivate trace state based on a browser event.
   * @param {import("../MapBrowserEvent.js").default} event Event.
   * @private
   */
  toggleTraceState_(e) {
    if (!this.traceSource_ || !this.traceCondition_(e))
      return;
    if (this.traceState_.active) {
      this.deactivateTrace_(), this.traceSegments_ = null;
      return;
    }
    const t = this.getTraceCandidates_(e);
    if (t.length === 0)
      return;
    const n = h0(e.coordinate, t);
    n.length && (this.traceState_ = {
      active: !0,
      startCoord: e.coordinate.slice(),
      targets: n,
      targetIndex: -1
    });
  }
  /**
   * @param {import('./tracing.js').TraceTarget} target The trace target.
   * @param {number} endIndex The new end index of the trace.
   * @private
   */
  addOrRemoveTracedCoordinates_(e, t) {
    const n = e.startIndex <= e.endIndex, s = e.startIndex <= t;
    n === s ? n && t > e.endIndex || !n && t < e.endIndex ? this.addTracedCoordinates_(e, e.endIndex, t) : (n && t < e.endIndex || !n && t > e.endIndex) && this.removeTracedCoordinates_(t, e.endIndex) : (this.removeTracedCoordinates_(e.startIndex, e.endIndex), this.addTracedCoordinates_(e, e.startIndex, t));
  }
  /**
   * @param {number} fromIndex The start index.
   * @param {number} toIndex The end index.
   * @private
   */
  removeTracedCoordinates_(e, t) {
    if (e === t)
      return;
    let n = 0;
    if (e < t) {
      const s = Math.ceil(e);
      let r = Math.floor(t);
      r === t && (r -= 1), n = r - s + 1;
    } else {
      const s = Math.floor(e);
      let r = Math.ceil(t);
      r === t && (r += 1), n = s - r + 1;
    }
    if (n > 0)
      for (const s of this.traceSegments_) {
        const r = s[0], o = r.geometry, a = s[1];
        let l = s[0].index + 1;
        a === 1 && (l -= n);
        const c = o.getCoordinates();
        Fo(
          c,
          o.getType(),
          r.depth
        ).splice(l, n), o.setCoordinates(c), a === 1 && (r.index -= n);
      }
  }
  /**
   * @param {import('./tracing.js').TraceTarget} target The trace target.
   * @param {number} fromIndex The start index.
   * @param {number} toIndex The end index.
   * @private
   */
  addTracedCoordinates_(e, t, n) {
    if (t === n)
      return;
    const s = [];
    if (t < n) {
      const r = Math.ceil(t);
      let o = Math.floor(n);
      o === n && (o -= 1);
      for (let a = r; a <= o; ++a)
        s.push(yi(e.coordinates, a));
    } else {
      const r = Math.floor(t);
      let o = Math.ceil(n);
      o === n && (o += 1);
      for (let a = r; a >= o; --a)
        s.push(yi(e.coordinates, a));
    }
    if (s.length)
      for (const r of this.traceSegments_) {
        const o = r[0], a = o.geometry, l = r[1], c = o.index + 1;
        l === 0 && s.reverse();
        const h = a.getCoordinates();
        Fo(
          h,
          a.getType(),
          o.depth
        ).splice(c, 0, ...s), a.setCoordinates(h), l === 1 && (o.index += s.length);
      }
  }
  /**
   * @param {import('../coordinate.js').Coordinate} vertex Vertex.
   * @param {DragSegment} dragSegment Drag segment.
   */
  updateGeometry_(e, t) {
    const n = t[0], s = n.depth;
    let r;
    const o = n.segment, a = n.geometry, l = t[1];
    for (; e.length < a.getStride(); )
      e.push(o[l][e.length]);
    switch (a.getType()) {
      case "Point":
        r = e, o[0] = e, o[1] = e;
        break;
      case "MultiPoint":
        r = a.getCoordinates(), r[n.index] = e, o[0] = e, o[1] = e;
        break;
      case "LineString":
        r = a.getCoordinates(), r[n.index + l] = e, o[l] = e;
        break;
      case "MultiLineString":
        r = a.getCoordinates(), r[s[0]][n.index + l] = e, o[l] = e;
        break;
      case "Polygon":
        r = a.getCoordinates(), r[s[0]][n.index + l] = e, o[l] = e;
        break;
      case "MultiPolygon":
        r = a.getCoordinates(), r[s[1]][s[0]][n.index + l] = e, o[l] = e;
        break;
      case "Circle":
        const c = (
          /** @type {import("../geom/Circle.js").default} */
          a
        );
        if (o[0] = e, o[1] = e, n.index === kc)
          this.changingFeature_ = !0, c.setCenter(e), this.changingFeature_ = !1;
        else {
          this.changingFeature_ = !0, this.getMap().getView().getProjection();
          let h = Yi(
            ge(c.getCenter()),
            ge(e)
          );
          c.setRadius(h), this.changingFeature_ = !1;
        }
        break;
    }
    r && this.setGeometryCoordinates_(a, r);
  }
  /**
   * Handle pointer drag events.
   * @param {import("../MapBrowserEvent.js").default} evt Event.
   * @override
   */
  handleDragEvent(e) {
    this.ignoreNextSingleClick_ = !1, this.willModifyFeatures_(
      e,
      this.dragSegments_.map(([o]) => o)
    );
    const t = [
      e.coordinate[0] + this.delta_[0],
      e.coordinate[1] + this.delta_[1]
    ], n = [], s = [], r = this.traceState_.active && !this.traceSegments_ ? this.traceState_.startCoord : null;
    if (r) {
      this.traceSegments_ = [];
      for (const o of this.dragSegments_) {
        const a = o[0];
        Yi(
          Ca(r, a.segment),
          r
        ) / e.map.getView().getResolution() < 1 && this.traceSegments_.push(o);
      }
    }
    for (let o = 0, a = this.dragSegments_.length; o < a; ++o) {
      const l = this.dragSegments_[o], c = l[0], h = c.feature;
      n.includes(h) || n.push(h);
      const u = c.geometry;
      s.includes(u) || s.push(u), this.updateGeometry_(t, l);
    }
    this.updateTrace_(e), this.createOrUpdateVertexFeature_(t, n, s, !0);
  }
  /**
   * Handle pointer down events.
   * @param {import("../MapBrowserEvent.js").default} evt Event.
   * @return {boolean} If the event was consumed.
   * @override
   */
  handleDownEvent(e) {
    if (!this.condition_(e))
      return !1;
    const t = e.coordinate, n = this.findInsertVerticesAndUpdateDragSegments_(t);
    if (n?.length && this.insertVertexCondition_(e) && (this.willModifyFeatures_(e, n), this.vertexFeature_)) {
      const s = this.vertexFeature_.getGeometry().getCoordinates();
      for (let r = n.length - 1; r >= 0; --r)
        this.insertVertex_(n[r], s);
      this.ignoreNextSingleClick_ = !0;
    }
    return !!this.vertexFeature_;
  }
  /**
   * Handle pointer up events.
   * @param {import("../MapBrowserEvent.js").default} evt Event.
   * @return {boolean} If the event was consumed.
   * @override
   */
  handleUpEvent(e) {
    for (let t = this.dragSegments_.length - 1; t >= 0; --t) {
      const n = this.dragSegments_[t][0], s = n.geometry;
      if (s.getType() === "Circle") {
        const r = (
          /** @type {import("../geom/Circle.js").default} */
          s
        ), o = r.getCenter(), a = n.featureSegments[0], l = n.featureSegments[1];
        a.segment[0] = o, a.segment[1] = o, l.segment[0] = o, l.segment[1] = o, this.rBush_.update(Qi(o), a);
        let c = r;
        this.rBush_.update(
          c.getExtent(),
          l
        );
      } else
        this.rBush_.update(Qe(n.segment), n);
    }
    return this.featuresBeingModified_ && (this.toggleTraceState_(e), this.dispatchEvent(
      new bo(
        Ao.MODIFYEND,
        this.featuresBeingModified_,
        e
      )
    ), this.featuresBeingModified_ = null), !1;
  }
  /**
   * @param {import("../MapBrowserEvent.js").default} evt Event.
   * @private
   */
  handlePointerMove_(e) {
    this.lastCoordinate_ = e.coordinate, this.handlePointerAtPixel_(this.lastCoordinate_);
  }
  /**
   * @param {import("../coordinate.js").Coordinate} pixelCoordinate The pixel Coordinate.
   * @private
   */
  handlePointerAtPixel_(e) {
    const t = this.getMap(), n = t.getPixelFromCoordinate(e);
    t.getView().getProjection();
    const s = function(a, l) {
      return Bc(e, a) - Bc(e, l);
    };
    let r, o;
    if (this.hitDetection_) {
      const a = typeof this.hitDetection_ == "object" ? (l) => l === this.hitDetection_ : void 0;
      t.forEachFeatureAtPixel(
        n,
        (l, c, h) => {
          h && h.getType() === "Point" && (h = new Je(
            Un(h.getCoordinates())
          ));
          const u = h || l.getGeometry();
          if (u && u.getType() === "Point" && l instanceof st && this.features_.getArray().includes(l)) {
            o = /** @type {Point} */
            u;
            const d = (
              /** @type {Point} */
              l.getGeometry().getFlatCoordinates().slice(0, 2)
            );
            r = [
              {
                feature: l,
                geometry: o,
                segment: [d, d]
              }
            ];
          }
          return !0;
        },
        { layerFilter: a }
      );
    }
    if (!r) {
      const a = en(
        Qi(e, Gc)
      ), l = t.getView().getResolution() * this.pixelTolerance_, c = Fa(
        Ps(a, l, Gc)
      );
      r = this.rBush_.getInExtent(c);
    }
    if (r && r.length > 0) {
      const a = r.sort(s)[0], l = a.segment;
      let c = Uc(e, a);
      const h = t.getPixelFromCoordinate(c);
      let u = Yi(n, h);
      if (o || u <= this.pixelTolerance_) {
        const d = {};
        if (d[z(l)] = !0, this.snapToPointer_ || (this.delta_[0] = c[0] - e[0], this.delta_[1] = c[1] - e[1]), a.geometry.getType() === "Circle" && a.index === ss)
          this.snappedToVertex_ = !0, this.createOrUpdateVertexFeature_(
            c,
            [a.feature],
            [a.geometry],
            this.snappedToVertex_
          );
        else {
          const f = t.getPixelFromCoordinate(l[0]), g = t.getPixelFromCoordinate(l[1]), m = rs(h, f), _ = rs(h, g);
          if (u = Math.sqrt(Math.min(m, _)), this.snappedToVertex_ = u <= this.pixelTolerance_, !this.snappedToVertex_ && !this.insertVertexCondition_(this.lastPointerEvent_)) {
            this.vertexFeature_ && (this.overlay_.getSource().removeFeature(this.vertexFeature_), this.vertexFeature_ = null);
            return;
          }
          this.snappedToVertex_ && (c = m > _ ? l[1] : l[0]), this.createOrUpdateVertexFeature_(
            c,
            [a.feature],
            [a.geometry],
            this.snappedToVertex_
          );
          const p = {};
          p[z(a.geometry)] = !0;
          for (let x = 1, v = r.length; x < v; ++x) {
            const E = r[x].segment;
            if (Ze(l[0], E[0]) && Ze(l[1], E[1]) || Ze(l[0], E[1]) && Ze(l[1], E[0])) {
              const y = z(r[x].geometry);
              y in p || (p[y] = !0, d[z(E)] = !0);
            } else
              break;
          }
        }
        this.vertexSegments_ = d;
        return;
      }
    }
    this.vertexFeature_ && (this.overlay_.getSource().removeFeature(this.vertexFeature_), this.vertexFeature_ = null);
  }
  /**
   * @param {SegmentData} segmentData Segment data.
   * @param {import("../coordinate.js").Coordinate} vertex Vertex.
   * @return {boolean} A vertex was inserted.
   * @private
   */
  insertVertex_(e, t) {
    const n = e.segment, s = e.feature, r = e.geometry, o = e.depth, a = e.index;
    let l;
    for (; t.length < r.getStride(); )
      t.push(0);
    switch (r.getType()) {
      case "MultiLineString":
        l = r.getCoordinates(), l[o[0]].splice(a + 1, 0, t);
        break;
      case "Polygon":
        l = r.getCoordinates(), l[o[0]].splice(a + 1, 0, t);
        break;
      case "MultiPolygon":
        l = r.getCoordinates(), l[o[1]][o[0]].splice(a + 1, 0, t);
        break;
      case "LineString":
        l = r.getCoordinates(), l.splice(a + 1, 0, t);
        break;
      default:
        return !1;
    }
    this.setGeometryCoordinates_(r, l);
    const c = this.rBush_;
    c.remove(e), this.updateSegmentIndices_(r, a, o, 1);
    const h = {
      segment: [n[0], t],
      feature: s,
      geometry: r,
      depth: o,
      index: a
    };
    c.insert(Qe(h.segment), h), this.dragSegments_.push([h, 1]);
    const u = {
      segment: [t, n[1]],
      feature: s,
      geometry: r,
      depth: o,
      index: a + 1
    };
    return c.insert(Qe(u.segment), u), this.dragSegments_.push([u, 0]), !0;
  }
  /**
   * @param {import("../coordinate.js").Coordinate} coordinate The coordinate.
   * @return {import("../coordinate.js").Coordinate} The updated pointer coordinate.
   * @private
   */
  updatePointer_(e) {
    return e && this.findInsertVerticesAndUpdateDragSegments_(e), this.vertexFeature_?.getGeometry().getCoordinates();
  }
  /**
   * Get the current pointer position.
   * @return {import("../coordinate.js").Coordinate | null} The current pointer coordinate.
   */
  getPoint() {
    const e = this.vertexFeature_?.getGeometry().getCoordinates();
    return e ? Un(
      e,
      this.getMap().getView().getProjection()
    ) : null;
  }
  /**
   * Check if a point can be removed from the current linestring or polygon at the current
   * pointer position.
   * @return {boolean} A point can be deleted at the current pointer position.
   * @api
   */
  canRemovePoint() {
    if (!this.vertexFeature_ || this.vertexFeature_.get("geometries").every(
      (n) => n.getType() === "Circle" || n.getType().endsWith("Point")
    ))
      return !1;
    const e = this.vertexFeature_.getGeometry().getCoordinates();
    return this.rBush_.getInExtent(Qe([e])).some(
      ({ segment: n }) => Ze(n[0], e) || Ze(n[1], e)
    );
  }
  /**
   * Removes the vertex currently being pointed from the current linestring or polygon.
   * @param {import('../coordinate.js').Coordinate} [coordinate] If provided, the pointer
   * will be set to the provided coordinate. If not, the current pointer coordinate will be used.
   * @return {boolean} True when a vertex was removed.
   * @api
   */
  removePoint(e) {
    if (e && (e = ge(
      e,
      this.getMap().getView().getProjection()
    ), this.updatePointer_(e)), !this.lastPointerEvent_ || this.lastPointerEvent_ && this.lastPointerEvent_.type != le.POINTERDRAG) {
      const t = this.lastPointerEvent_;
      this.willModifyFeatures_(
        t,
        this.dragSegments_.map(([s]) => s)
      );
      const n = this.removeVertex_();
      return this.featuresBeingModified_ && this.dispatchEvent(
        new bo(
          Ao.MODIFYEND,
          this.featuresBeingModified_,
          t
        )
      ), this.featuresBeingModified_ = null, n;
    }
    return !1;
  }
  /**
   * Removes a vertex from all matching features.
   * @return {boolean} True when a vertex was removed.
   * @private
   */
  removeVertex_() {
    const e = this.dragSegments_, t = {};
    let n = !1, s, r, o, a, l, c, h, u, d, f, g;
    for (l = e.length - 1; l >= 0; --l)
      o = e[l], f = o[0], g = z(f.feature), f.depth && (g += "-" + f.depth.join("-")), g in t || (t[g] = {}), o[1] === 0 ? (t[g].right = f, t[g].index = f.index) : o[1] == 1 && (t[g].left = f, t[g].index = f.index + 1);
    for (g in t) {
      switch (d = t[g].right, h = t[g].left, c = t[g].index, u = c - 1, h !== void 0 ? f = h : f = d, u < 0 && (u = 0), a = f.geometry, r = a.getCoordinates(), s = r, n = !1, a.getType()) {
        case "MultiLineString":
          r[f.depth[0]].length > 2 && (r[f.depth[0]].splice(c, 1), n = !0);
          break;
        case "LineString":
          r.length > 2 && (r.splice(c, 1), n = !0);
          break;
        case "MultiPolygon":
          s = s[f.depth[1]];
        /* falls through */
        case "Polygon":
          s = s[f.depth[0]], s.length > 4 && (c == s.length - 1 && (c = 0), s.splice(c, 1), n = !0, c === 0 && (s.pop(), s.push(s[0]), u = s.length - 1));
          break;
      }
      if (n) {
        this.setGeometryCoordinates_(a, r);
        const m = [];
        if (h !== void 0 && (this.rBush_.remove(h), m.push(h.segment[0])), d !== void 0 && (this.rBush_.remove(d), m.push(d.segment[1])), h !== void 0 && d !== void 0) {
          const _ = {
            depth: f.depth,
            feature: f.feature,
            geometry: f.geometry,
            index: u,
            segment: m
          };
          this.rBush_.insert(
            Qe(_.segment),
            _
          );
        }
        this.updateSegmentIndices_(a, c, f.depth, -1), this.vertexFeature_ && (this.overlay_.getSource().removeFeature(this.vertexFeature_), this.vertexFeature_ = null), e.length = 0;
      }
    }
    return n;
  }
  /**
   * Check if a point can be inserted to the current linestring or polygon at the current
   * pointer position.
   * @return {boolean} A point can be inserted at the current pointer position.
   * @api
   */
  canInsertPoint() {
    if (!this.vertexFeature_ || this.vertexFeature_.get("geometries").every(
      (n) => n.getType() === "Circle" || n.getType().endsWith("Point")
    ))
      return !1;
    const e = this.vertexFeature_.getGeometry().getCoordinates();
    return this.rBush_.getInExtent(Qe([e])).some(
      ({ segment: n }) => !(Ze(n[0], e) || Ze(n[1], e))
    );
  }
  /**
   * Inserts the vertex currently being pointed to the current linestring or polygon.
   * @param {import('../coordinate.js').Coordinate} [coordinate] If provided, the pointer
   * will be set to the provided coordinate. If not, the current pointer coordinate will be used.
   * @return {boolean} A vertex was inserted.
   * @api
   */
  insertPoint(e) {
    const t = e ? ge(e, this.getMap().getView().getProjection()) : this.vertexFeature_?.getGeometry().getCoordinates();
    return t ? this.findInsertVerticesAndUpdateDragSegments_(t).reduce(
      (s, r) => s || this.insertVertex_(r, t),
      !1
    ) : !1;
  }
  /**
   * @param {import("../geom/SimpleGeometry.js").default} geometry Geometry.
   * @param {Array} coordinates Coordinates.
   * @private
   */
  setGeometryCoordinates_(e, t) {
    this.changingFeature_ = !0, e.setCoordinates(t), this.changingFeature_ = !1;
  }
  /**
   * @param {import("../geom/SimpleGeometry.js").default} geometry Geometry.
   * @param {number} index Index.
   * @param {Array<number>|undefined} depth Depth.
   * @param {number} delta Delta (1 or -1).
   * @private
   */
  updateSegmentIndices_(e, t, n, s) {
    this.rBush_.forEachInExtent(
      e.getExtent(),
      function(r) {
        r.geometry === e && (n === void 0 || r.depth === void 0 || $t(r.depth, n)) && r.index > t && (r.index += s);
      }
    );
  }
}
function d0(i, e) {
  return i.index - e.index;
}
function Bc(i, e, t) {
  const n = e.geometry;
  if (n.getType() === "Circle") {
    let r = (
      /** @type {import("../geom/Circle.js").default} */
      n
    );
    if (e.index === ss) {
      const o = rs(
        r.getCenter(),
        ge(i)
      ), a = Math.sqrt(o) - r.getRadius();
      return a * a;
    }
  }
  const s = ge(i);
  return vi[0] = ge(e.segment[0]), vi[1] = ge(e.segment[1]), Td(s, vi);
}
function Uc(i, e, t) {
  const n = e.geometry;
  if (n.getType() === "Circle" && e.index === ss)
    return Un(
      /** @type {import("../geom/Circle.js").default} */
      n.getClosestPoint(
        ge(i)
      )
    );
  const s = ge(i);
  return vi[0] = ge(e.segment[0]), vi[1] = ge(e.segment[1]), Un(
    Ca(s, vi)
  );
}
function f0() {
  const i = Mg();
  return function(e, t) {
    return i.Point;
  };
}
const Lo = {
  /**
   * Triggered upon feature translation start.
   * @event TranslateEvent#translatestart
   * @api
   */
  TRANSLATESTART: "translatestart",
  /**
   * Triggered upon feature translation.
   * @event TranslateEvent#translating
   * @api
   */
  TRANSLATING: "translating",
  /**
   * Triggered upon feature translation end.
   * @event TranslateEvent#translateend
   * @api
   */
  TRANSLATEEND: "translateend"
};
class Mo extends At {
  /**
   * @param {TranslateEventType} type Type.
   * @param {Collection<Feature>} features The features translated.
   * @param {import("../coordinate.js").Coordinate} coordinate The event coordinate.
   * @param {import("../coordinate.js").Coordinate} startCoordinate The original coordinates before.translation started
   * @param {import("../MapBrowserEvent.js").default} mapBrowserEvent Map browser event.
   */
  constructor(e, t, n, s, r) {
    super(e), this.features = t, this.coordinate = n, this.startCoordinate = s, this.mapBrowserEvent = r;
  }
}
class g0 extends Kn {
  /**
   * @param {Options} [options] Options.
   */
  constructor(e) {
    e = e || {}, super(
      /** @type {import("./Pointer.js").Options} */
      e
    ), this.on, this.once, this.un, this.lastCoordinate_ = null, this.startCoordinate_ = null, this.features_ = e.features !== void 0 ? e.features : null;
    let t;
    if (e.layers && !this.features_)
      if (typeof e.layers == "function")
        t = e.layers;
      else {
        const n = e.layers;
        t = function(s) {
          return n.includes(s);
        };
      }
    else
      t = zn;
    this.layerFilter_ = t, this.filter_ = e.filter && !this.features_ ? e.filter : zn, this.hitTolerance_ = e.hitTolerance ? e.hitTolerance : 0, this.condition_ = e.condition ? e.condition : wr, this.lastFeature_ = null, this.addChangeListener(
      ua.ACTIVE,
      this.handleActiveChanged_
    );
  }
  /**
   * Handle pointer down events.
   * @param {import("../MapBrowserEvent.js").default} event Event.
   * @return {boolean} If the event was consumed.
   * @override
   */
  handleDownEvent(e) {
    if (!e.originalEvent || !this.condition_(e))
      return !1;
    if (this.lastFeature_ = this.featuresAtPixel_(e.pixel, e.map), !this.lastCoordinate_ && this.lastFeature_) {
      this.startCoordinate_ = e.coordinate, this.lastCoordinate_ = e.coordinate, this.handleMoveEvent(e);
      const t = this.features_ || new Ue([this.lastFeature_]);
      return this.dispatchEvent(
        new Mo(
          Lo.TRANSLATESTART,
          t,
          e.coordinate,
          this.startCoordinate_,
          e
        )
      ), !0;
    }
    return !1;
  }
  /**
   * Handle pointer up events.
   * @param {import("../MapBrowserEvent.js").default} event Event.
   * @return {boolean} If the event was consumed.
   * @override
   */
  handleUpEvent(e) {
    if (this.lastCoordinate_) {
      this.lastCoordinate_ = null, this.handleMoveEvent(e);
      const t = this.features_ || new Ue([this.lastFeature_]);
      return this.dispatchEvent(
        new Mo(
          Lo.TRANSLATEEND,
          t,
          e.coordinate,
          this.startCoordinate_,
          e
        )
      ), this.startCoordinate_ = null, !0;
    }
    return !1;
  }
  /**
   * Handle pointer drag events.
   * @param {import("../MapBrowserEvent.js").default} event Event.
   * @override
   */
  handleDragEvent(e) {
    if (this.lastCoordinate_) {
      const t = e.coordinate;
      e.map.getView().getProjection();
      const n = ge(t), s = ge(
        this.lastCoordinate_
      ), r = n[0] - s[0], o = n[1] - s[1], a = this.features_ || new Ue([this.lastFeature_]);
      a.forEach(function(l) {
        const c = l.getGeometry();
        c.translate(r, o), l.setGeometry(c);
      }), this.lastCoordinate_ = t, this.dispatchEvent(
        new Mo(
          Lo.TRANSLATING,
          a,
          t,
          this.startCoordinate_,
          e
        )
      );
    }
  }
  /**
   * Handle pointer move events.
   * @param {import("../MapBrowserEvent.js").default} event Event.
   * @override
   */
  handleMoveEvent(e) {
    const t = e.map.getViewport();
    this.featuresAtPixel_(e.pixel, e.map) ? (t.classList.remove(this.lastCoordinate_ ? "ol-grab" : "ol-grabbing"), t.classList.add(this.lastCoordinate_ ? "ol-grabbing" : "ol-grab")) : t.classList.remove("ol-grab", "ol-grabbing");
  }
  /**
   * Tests to see if the given coordinates intersects any of our selected
   * features.
   * @param {import("../pixel.js").Pixel} pixel Pixel coordinate to test for intersection.
   * @param {import("../Map.js").default} map Map to test the intersection on.
   * @return {Feature} Returns the feature found at the specified pixel
   * coordinates.
   * @private
   */
  featuresAtPixel_(e, t) {
    return t.forEachFeatureAtPixel(
      e,
      (n, s) => {
        if (!(!(n instanceof st) || !this.filter_(n, s)) && !(this.features_ && !this.features_.getArray().includes(n)))
          return n;
      },
      {
        layerFilter: this.layerFilter_,
        hitTolerance: this.hitTolerance_
      }
    );
  }
  /**
   * Returns the Hit-detection tolerance.
   * @return {number} Hit tolerance in pixels.
   * @api
   */
  getHitTolerance() {
    return this.hitTolerance_;
  }
  /**
   * Hit-detection tolerance. Pixels inside the radius around the given position
   * will be checked for features.
   * @param {number} hitTolerance Hit tolerance in pixels.
   * @api
   */
  setHitTolerance(e) {
    this.hitTolerance_ = e;
  }
  /**
   * Remove the interaction from its current map and attach it to the new map.
   * Subclasses may set up event handlers to get notified about changes to
   * the map here.
   * @param {import("../Map.js").default} map Map.
   * @override
   */
  setMap(e) {
    const t = this.getMap();
    super.setMap(e), this.updateState_(t);
  }
  /**
   * @private
   */
  handleActiveChanged_() {
    this.updateState_(null);
  }
  /**
   * @param {import("../Map.js").default} oldMap Old map.
   * @private
   */
  updateState_(e) {
    let t = this.getMap();
    const n = this.getActive();
    (!t || !n) && (t = t || e, t && t.getViewport().classList.remove("ol-grab", "ol-grabbing"));
  }
}
class Ir {
  constructor() {
    this.globalCounter_ = 0, this.refToFeature_ = /* @__PURE__ */ new Map(), this.uidToRef_ = /* @__PURE__ */ new Map(), this.freeGlobalRef_ = [], this.polygonBatch = {
      entries: {},
      geometriesCount: 0,
      verticesCount: 0,
      ringsCount: 0
    }, this.pointBatch = {
      entries: {},
      geometriesCount: 0
    }, this.lineStringBatch = {
      entries: {},
      geometriesCount: 0,
      verticesCount: 0
    };
  }
  /**
   * @param {Array<Feature|RenderFeature>} features Array of features to add to the batch
   * @param {import("../../proj.js").TransformFunction} [projectionTransform] Projection transform.
   */
  addFeatures(e, t) {
    for (let n = 0; n < e.length; n++)
      this.addFeature(e[n], t);
  }
  /**
   * @param {Feature|RenderFeature} feature Feature to add to the batch
   * @param {import("../../proj.js").TransformFunction} [projectionTransform] Projection transform.
   */
  addFeature(e, t) {
    let n = e.getGeometry();
    n && (t && (n = n.clone(), n.applyTransform(t)), this.addGeometry_(n, e));
  }
  /**
   * @param {Feature|RenderFeature} feature Feature
   * @return {GeometryBatchItem|void} the cleared entry
   * @private
   */
  clearFeatureEntryInPointBatch_(e) {
    const t = z(e), n = this.pointBatch.entries[t];
    if (n)
      return this.pointBatch.geometriesCount -= n.flatCoordss.length, delete this.pointBatch.entries[t], n;
  }
  /**
   * @param {Feature|RenderFeature} feature Feature
   * @return {GeometryBatchItem|void} the cleared entry
   * @private
   */
  clearFeatureEntryInLineStringBatch_(e) {
    const t = z(e), n = this.lineStringBatch.entries[t];
    if (n)
      return this.lineStringBatch.verticesCount -= n.verticesCount, this.lineStringBatch.geometriesCount -= n.flatCoordss.length, delete this.lineStringBatch.entries[t], n;
  }
  /**
   * @param {Feature|RenderFeature} feature Feature
   * @return {GeometryBatchItem|void} the cleared entry
   * @private
   */
  clearFeatureEntryInPolygonBatch_(e) {
    const t = z(e), n = this.polygonBatch.entries[t];
    if (n)
      return this.polygonBatch.verticesCount -= n.verticesCount, this.polygonBatch.ringsCount -= n.ringsCount, this.polygonBatch.geometriesCount -= n.flatCoordss.length, delete this.polygonBatch.entries[t], n;
  }
  /**
   * @param {import("../../geom.js").Geometry|RenderFeature} geometry Geometry
   * @param {Feature|RenderFeature} feature Feature
   * @private
   */
  addGeometry_(e, t) {
    const n = e.getType();
    switch (n) {
      case "GeometryCollection": {
        const s = (
          /** @type {import("../../geom.js").GeometryCollection} */
          e.getGeometriesArray()
        );
        for (const r of s)
          this.addGeometry_(r, t);
        break;
      }
      case "MultiPolygon": {
        const s = (
          /** @type {import("../../geom.js").MultiPolygon} */
          e
        );
        this.addCoordinates_(
          n,
          s.getFlatCoordinates(),
          s.getEndss(),
          t,
          z(t),
          s.getStride()
        );
        break;
      }
      case "MultiLineString": {
        const s = (
          /** @type {import("../../geom.js").MultiLineString|RenderFeature} */
          e
        );
        this.addCoordinates_(
          n,
          s.getFlatCoordinates(),
          s.getEnds(),
          t,
          z(t),
          s.getStride()
        );
        break;
      }
      case "MultiPoint": {
        const s = (
          /** @type {import("../../geom.js").MultiPoint|RenderFeature} */
          e
        );
        this.addCoordinates_(
          n,
          s.getFlatCoordinates(),
          null,
          t,
          z(t),
          s.getStride()
        );
        break;
      }
      case "Polygon": {
        const s = (
          /** @type {import("../../geom.js").Polygon|RenderFeature} */
          e
        );
        this.addCoordinates_(
          n,
          s.getFlatCoordinates(),
          s.getEnds(),
          t,
          z(t),
          s.getStride()
        );
        break;
      }
      case "Point": {
        const s = (
          /** @type {import("../../geom.js").Point} */
          e
        );
        this.addCoordinates_(
          n,
          s.getFlatCoordinates(),
          null,
          t,
          z(t),
          s.getStride()
        );
        break;
      }
      case "LineString":
      case "LinearRing": {
        const s = (
          /** @type {import("../../geom.js").LineString} */
          e
        ), r = s.getStride();
        this.addCoordinates_(
          n,
          s.getFlatCoordinates(),
          null,
          t,
          z(t),
          r,
          s.getLayout?.()
        );
        break;
      }
    }
  }
  /**
   * @param {GeometryType} type Geometry type
   * @param {Array<number>} flatCoords Flat coordinates
   * @param {Array<number> | Array<Array<number>> | null} ends Coordinate ends
   * @param {Feature|RenderFeature} feature Feature
   * @param {string} featureUid Feature uid
   * @param {number} stride Stride
   * @param {import('../../geom/Geometry.js').GeometryLayout} [layout] Layout
   * @private
   */
  addCoordinates_(e, t, n, s, r, o, a) {
    let l;
    switch (e) {
      case "MultiPolygon": {
        const c = (
          /** @type {Array<Array<number>>} */
          n
        );
        for (let h = 0, u = c.length; h < u; h++) {
          let d = c[h];
          const f = h > 0 ? c[h - 1] : null, g = f ? f[f.length - 1] : 0, m = d[d.length - 1];
          d = g > 0 ? d.map((_) => _ - g) : d, this.addCoordinates_(
            "Polygon",
            t.slice(g, m),
            d,
            s,
            r,
            o,
            a
          );
        }
        break;
      }
      case "MultiLineString": {
        const c = (
          /** @type {Array<number>} */
          n
        );
        for (let h = 0, u = c.length; h < u; h++) {
          const d = h > 0 ? c[h - 1] : 0;
          this.addCoordinates_(
            "LineString",
            t.slice(d, c[h]),
            null,
            s,
            r,
            o,
            a
          );
        }
        break;
      }
      case "MultiPoint":
        for (let c = 0, h = t.length; c < h; c += o)
          this.addCoordinates_(
            "Point",
            t.slice(c, c + 2),
            null,
            s,
            r,
            null,
            null
          );
        break;
      case "Polygon": {
        const c = (
          /** @type {Array<number>} */
          n
        );
        if (s instanceof tt) {
          const d = Dh(t, c);
          if (d.length > 1) {
            this.addCoordinates_(
              "MultiPolygon",
              t,
              d,
              s,
              r,
              o,
              a
            );
            return;
          }
        }
        this.polygonBatch.entries[r] || (this.polygonBatch.entries[r] = this.addRefToEntry_(
          r,
          {
            feature: s,
            flatCoordss: [],
            verticesCount: 0,
            ringsCount: 0,
            ringsVerticesCounts: []
          }
        )), l = t.length / o;
        const h = n.length, u = n.map(
          (d, f, g) => f > 0 ? (d - g[f - 1]) / o : d / o
        );
        this.polygonBatch.verticesCount += l, this.polygonBatch.ringsCount += h, this.polygonBatch.geometriesCount++, this.polygonBatch.entries[r].flatCoordss.push(
          _0(t, o)
        ), this.polygonBatch.entries[r].ringsVerticesCounts.push(
          u
        ), this.polygonBatch.entries[r].verticesCount += l, this.polygonBatch.entries[r].ringsCount += h;
        for (let d = 0, f = c.length; d < f; d++) {
          const g = d > 0 ? c[d - 1] : 0;
          this.addCoordinates_(
            "LinearRing",
            t.slice(g, c[d]),
            null,
            s,
            r,
            o,
            a
          );
        }
        break;
      }
      case "Point":
        this.pointBatch.entries[r] || (this.pointBatch.entries[r] = this.addRefToEntry_(
          r,
          {
            feature: s,
            flatCoordss: []
          }
        )), this.pointBatch.geometriesCount++, this.pointBatch.entries[r].flatCoordss.push(t);
        break;
      case "LineString":
      case "LinearRing":
        this.lineStringBatch.entries[r] || (this.lineStringBatch.entries[r] = this.addRefToEntry_(
          r,
          {
            feature: s,
            flatCoordss: [],
            verticesCount: 0
          }
        )), l = t.length / o, this.lineStringBatch.verticesCount += l, this.lineStringBatch.geometriesCount++, this.lineStringBatch.entries[r].flatCoordss.push(
          m0(t, o, a)
        ), this.lineStringBatch.entries[r].verticesCount += l;
        break;
    }
  }
  /**
   * @param {string} featureUid Feature uid
   * @param {GeometryBatchItem} entry The entry to add
   * @return {GeometryBatchItem} the added entry
   * @private
   */
  addRefToEntry_(e, t) {
    const n = this.uidToRef_.get(e), s = n || this.freeGlobalRef_.pop() || ++this.globalCounter_;
    return t.ref = s, n || (this.refToFeature_.set(s, t.feature), this.uidToRef_.set(e, s)), t;
  }
  /**
   * Return a ref to the pool of available refs.
   * @param {number} ref the ref to return
   * @param {string} featureUid the feature uid
   * @private
   */
  removeRef_(e, t) {
    if (!e)
      throw new Error("This feature has no ref: " + t);
    this.refToFeature_.delete(e), this.uidToRef_.delete(t), this.freeGlobalRef_.push(e);
  }
  /**
   * @param {Feature|RenderFeature} feature Feature
   * @param {import("../../proj.js").TransformFunction} [projectionTransform] Projection transform.
   */
  changeFeature(e, t) {
    if (!this.uidToRef_.get(z(e)))
      return;
    this.removeFeature(e);
    let n = e.getGeometry();
    n && (t && (n = n.clone(), n.applyTransform(t)), this.addGeometry_(n, e));
  }
  /**
   * @param {Feature|RenderFeature} feature Feature
   */
  removeFeature(e) {
    let t = this.clearFeatureEntryInPointBatch_(e);
    t = this.clearFeatureEntryInPolygonBatch_(e) || t, t = this.clearFeatureEntryInLineStringBatch_(e) || t, t && this.removeRef_(t.ref, z(t.feature));
  }
  clear() {
    this.polygonBatch.entries = {}, this.polygonBatch.geometriesCount = 0, this.polygonBatch.verticesCount = 0, this.polygonBatch.ringsCount = 0, this.lineStringBatch.entries = {}, this.lineStringBatch.geometriesCount = 0, this.lineStringBatch.verticesCount = 0, this.pointBatch.entries = {}, this.pointBatch.geometriesCount = 0, this.globalCounter_ = 0, this.freeGlobalRef_ = [], this.refToFeature_.clear(), this.uidToRef_.clear();
  }
  /**
   * Resolve the feature associated to a ref.
   * @param {number} ref Hit detected ref
   * @return {Feature|RenderFeature} feature
   */
  getFeatureFromRef(e) {
    return this.refToFeature_.get(e);
  }
  isEmpty() {
    return this.globalCounter_ === 0;
  }
  /**
   * Will return a new instance of this class that only contains the features
   * for which the provided callback returned true
   * @param {function((Feature|RenderFeature)): boolean} featureFilter Feature filter callback
   * @return {MixedGeometryBatch} Filtered geometry batch
   */
  filter(e) {
    const t = new Ir();
    t.globalCounter_ = this.globalCounter_, t.uidToRef_ = this.uidToRef_, t.refToFeature_ = this.refToFeature_;
    let n = !0;
    for (const s of this.refToFeature_.values())
      e(s) && (t.addFeature(s), n = !1);
    return n ? new Ir() : t;
  }
}
function _0(i, e) {
  return e === 2 ? i : i.filter((t, n) => n % e < 2);
}
function m0(i, e, t) {
  return e === 3 && t === "XYM" ? i : e === 4 ? i.filter((n, s) => s % e !== 2) : e === 3 ? i.map((n, s) => s % e !== 2 ? n : 0) : new Array(i.length * 1.5).fill(0).map((n, s) => s % 3 === 2 ? 0 : i[Math.round(s / 1.5)]);
}
const Ar = 34962, pl = 34963, p0 = 35044, Do = 35048, y0 = 5121, x0 = 5123, E0 = 5125, Ou = 5126, zc = ["experimental-webgl", "webgl", "webkit-3d", "moz-webgl"];
function v0(i, e) {
  e = Object.assign(
    {
      preserveDrawingBuffer: !0,
      antialias: !sg
      // https://bugs.webkit.org/show_bug.cgi?id=237906
    },
    e
  );
  const t = zc.length;
  for (let n = 0; n < t; ++n)
    try {
      const s = i.getContext(zc[n], e);
      if (s)
        return (
          /** @type {!WebGLRenderingContext} */
          s
        );
    } catch {
    }
  return null;
}
const C0 = {
  STATIC_DRAW: p0
};
class Oo {
  /**
   * @param {number} type Buffer type, either ARRAY_BUFFER or ELEMENT_ARRAY_BUFFER.
   * @param {number} [usage] Intended usage, either `STATIC_DRAW`, `STREAM_DRAW` or `DYNAMIC_DRAW`.
   * Default is `STATIC_DRAW`.
   */
  constructor(e, t) {
    this.array_ = null, this.type_ = e, ie(
      e === Ar || e === pl,
      "A `WebGLArrayBuffer` must either be of type `ELEMENT_ARRAY_BUFFER` or `ARRAY_BUFFER`"
    ), this.usage_ = t !== void 0 ? t : C0.STATIC_DRAW;
  }
  /**
   * Populates the buffer with an array of the given size (all values will be zeroes).
   * @param {number} size Array size
   * @return {WebGLArrayBuffer} This
   */
  ofSize(e) {
    return this.array_ = new (ar(this.type_))(e), this;
  }
  /**
   * Populates the buffer with an array of the given size.
   * @param {Array<number>} array Numerical array
   * @return {WebGLArrayBuffer} This
   */
  fromArray(e) {
    return this.array_ = ar(this.type_).from(e), this;
  }
  /**
   * Populates the buffer with a raw binary array buffer.
   * @param {ArrayBuffer} buffer Raw binary buffer to populate the array with. Note that this buffer must have been
   * initialized for the same typed array class.
   * @return {WebGLArrayBuffer} This
   */
  fromArrayBuffer(e) {
    return this.array_ = new (ar(this.type_))(e), this;
  }
  /**
   * @return {number} Buffer type.
   */
  getType() {
    return this.type_;
  }
  /**
   * Will return null if the buffer was not initialized
   * @return {Float32Array|Uint32Array|null} Array.
   */
  getArray() {
    return this.array_;
  }
  /**
   * @param {Float32Array|Uint32Array} array Array.
   */
  setArray(e) {
    const t = ar(this.type_);
    if (!(e instanceof t))
      throw new Error(`Expected ${t}`);
    this.array_ = e;
  }
  /**
   * @return {number} Usage.
   */
  getUsage() {
    return this.usage_;
  }
  /**
   * Will return 0 if the buffer is not initialized
   * @return {number} Array size
   */
  getSize() {
    return this.array_ ? this.array_.length : 0;
  }
}
function ar(i) {
  switch (i) {
    case Ar:
      return Float32Array;
    case pl:
      return Uint32Array;
    default:
      return Float32Array;
  }
}
function Nu() {
  return [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
}
function ga(i, e) {
  return i[0] = e[0], i[1] = e[1], i[4] = e[2], i[5] = e[3], i[12] = e[4], i[13] = e[5], i;
}
const lr = {
  LOST: "webglcontextlost",
  RESTORED: "webglcontextrestored"
}, T0 = `
  precision mediump float;

  attribute vec2 a_position;
  varying vec2 v_texCoord;
  varying vec2 v_screenCoord;

  uniform vec2 u_screenSize;

  void main() {
    v_texCoord = a_position * 0.5 + 0.5;
    v_screenCoord = v_texCoord * u_screenSize;
    gl_Position = vec4(a_position, 0.0, 1.0);
  }
`, S0 = `
  precision mediump float;

  uniform sampler2D u_image;
  uniform float u_opacity;

  varying vec2 v_texCoord;

  void main() {
    gl_FragColor = texture2D(u_image, v_texCoord) * u_opacity;
  }
`;
class $c {
  /**
   * @param {Options} options Options.
   */
  constructor(e) {
    this.gl_ = e.webGlContext;
    const t = this.gl_;
    this.scaleRatio_ = e.scaleRatio || 1, this.renderTargetTexture_ = t.createTexture(), this.renderTargetTextureSize_ = null, this.frameBuffer_ = t.createFramebuffer(), this.depthBuffer_ = t.createRenderbuffer();
    const n = t.createShader(t.VERTEX_SHADER);
    t.shaderSource(
      n,
      e.vertexShader || T0
    ), t.compileShader(n);
    const s = t.createShader(t.FRAGMENT_SHADER);
    t.shaderSource(
      s,
      e.fragmentShader || S0
    ), t.compileShader(s), this.renderTargetProgram_ = t.createProgram(), t.attachShader(this.renderTargetProgram_, n), t.attachShader(this.renderTargetProgram_, s), t.linkProgram(this.renderTargetProgram_), this.renderTargetVerticesBuffer_ = t.createBuffer();
    const r = [-1, -1, 1, -1, -1, 1, 1, -1, 1, 1, -1, 1];
    t.bindBuffer(t.ARRAY_BUFFER, this.renderTargetVerticesBuffer_), t.bufferData(
      t.ARRAY_BUFFER,
      new Float32Array(r),
      t.STATIC_DRAW
    ), this.renderTargetAttribLocation_ = t.getAttribLocation(
      this.renderTargetProgram_,
      "a_position"
    ), this.renderTargetUniformLocation_ = t.getUniformLocation(
      this.renderTargetProgram_,
      "u_screenSize"
    ), this.renderTargetOpacityLocation_ = t.getUniformLocation(
      this.renderTargetProgram_,
      "u_opacity"
    ), this.renderTargetTextureLocation_ = t.getUniformLocation(
      this.renderTargetProgram_,
      "u_image"
    ), this.uniforms_ = [], e.uniforms && Object.keys(e.uniforms).forEach((o) => {
      this.uniforms_.push({
        value: e.uniforms[o],
        location: t.getUniformLocation(this.renderTargetProgram_, o)
      });
    });
  }
  getRenderTargetTexture() {
    return this.renderTargetTexture_;
  }
  /**
   * Get the WebGL rendering context
   * @return {WebGLRenderingContext} The rendering context.
   */
  getGL() {
    return this.gl_;
  }
  /**
   * Initialize the render target texture of the post process, make sure it is at the
   * right size and bind it as a render target for the next draw calls.
   * The last step to be initialized will be the one where the primitives are rendered.
   * @param {import("../Map.js").FrameState} frameState current frame state
   */
  init(e) {
    const t = this.getGL(), n = [
      t.drawingBufferWidth * this.scaleRatio_,
      t.drawingBufferHeight * this.scaleRatio_
    ];
    if (t.bindFramebuffer(t.FRAMEBUFFER, this.getFrameBuffer()), t.bindRenderbuffer(t.RENDERBUFFER, this.getDepthBuffer()), t.viewport(0, 0, n[0], n[1]), !this.renderTargetTextureSize_ || this.renderTargetTextureSize_[0] !== n[0] || this.renderTargetTextureSize_[1] !== n[1]) {
      this.renderTargetTextureSize_ = n;
      const s = 0, r = t.RGBA, o = 0, a = t.RGBA, l = t.UNSIGNED_BYTE, c = null;
      t.bindTexture(t.TEXTURE_2D, this.renderTargetTexture_), t.texImage2D(
        t.TEXTURE_2D,
        s,
        r,
        n[0],
        n[1],
        o,
        a,
        l,
        c
      ), t.texParameteri(t.TEXTURE_2D, t.TEXTURE_MIN_FILTER, t.LINEAR), t.texParameteri(t.TEXTURE_2D, t.TEXTURE_WRAP_S, t.CLAMP_TO_EDGE), t.texParameteri(t.TEXTURE_2D, t.TEXTURE_WRAP_T, t.CLAMP_TO_EDGE), t.framebufferTexture2D(
        t.FRAMEBUFFER,
        t.COLOR_ATTACHMENT0,
        t.TEXTURE_2D,
        this.renderTargetTexture_,
        0
      ), t.renderbufferStorage(
        t.RENDERBUFFER,
        t.DEPTH_COMPONENT16,
        n[0],
        n[1]
      ), t.framebufferRenderbuffer(
        t.FRAMEBUFFER,
        t.DEPTH_ATTACHMENT,
        t.RENDERBUFFER,
        this.depthBuffer_
      );
    }
  }
  /**
   * Render to the next postprocessing pass (or to the canvas if final pass).
   * @param {import("../Map.js").FrameState} frameState current frame state
   * @param {WebGLPostProcessingPass} [nextPass] Next pass, optional
   * @param {function(WebGLRenderingContext, import("../Map.js").FrameState):void} [preCompose] Called before composing.
   * @param {function(WebGLRenderingContext, import("../Map.js").FrameState):void} [postCompose] Called before composing.
   */
  apply(e, t, n, s) {
    const r = this.getGL(), o = e.size;
    if (r.bindFramebuffer(
      r.FRAMEBUFFER,
      t ? t.getFrameBuffer() : null
    ), r.activeTexture(r.TEXTURE0), r.bindTexture(r.TEXTURE_2D, this.renderTargetTexture_), !t) {
      const l = z(r.canvas);
      if (!e.renderTargets[l]) {
        const c = r.getContextAttributes();
        c && c.preserveDrawingBuffer && (r.clearColor(0, 0, 0, 0), r.clearDepth(1), r.clear(r.COLOR_BUFFER_BIT | r.DEPTH_BUFFER_BIT)), e.renderTargets[l] = !0;
      }
    }
    r.disable(r.DEPTH_TEST), r.enable(r.BLEND), r.blendFunc(r.ONE, r.ONE_MINUS_SRC_ALPHA), r.viewport(0, 0, r.drawingBufferWidth, r.drawingBufferHeight), r.bindBuffer(r.ARRAY_BUFFER, this.renderTargetVerticesBuffer_), r.useProgram(this.renderTargetProgram_), r.enableVertexAttribArray(this.renderTargetAttribLocation_), r.vertexAttribPointer(
      this.renderTargetAttribLocation_,
      2,
      r.FLOAT,
      !1,
      0,
      0
    ), r.uniform2f(this.renderTargetUniformLocation_, o[0], o[1]), r.uniform1i(this.renderTargetTextureLocation_, 0);
    const a = e.layerStatesArray[e.layerIndex].opacity;
    r.uniform1f(this.renderTargetOpacityLocation_, a), this.applyUniforms(e), n && n(r, e), r.drawArrays(r.TRIANGLES, 0, 6), s && s(r, e);
  }
  /**
   * @return {WebGLFramebuffer} Frame buffer
   */
  getFrameBuffer() {
    return this.frameBuffer_;
  }
  /**
   * @return {WebGLRenderbuffer} Depth buffer
   */
  getDepthBuffer() {
    return this.depthBuffer_;
  }
  /**
   * Sets the custom uniforms based on what was given in the constructor.
   * @param {import("../Map.js").FrameState} frameState Frame state.
   * @private
   */
  applyUniforms(e) {
    const t = this.getGL();
    let n, s = 1;
    this.uniforms_.forEach(function(r) {
      if (n = typeof r.value == "function" ? r.value(e) : r.value, n instanceof HTMLCanvasElement || n instanceof ImageData)
        r.texture || (r.texture = t.createTexture()), t.activeTexture(t[`TEXTURE${s}`]), t.bindTexture(t.TEXTURE_2D, r.texture), t.texParameteri(t.TEXTURE_2D, t.TEXTURE_MIN_FILTER, t.LINEAR), t.texParameteri(t.TEXTURE_2D, t.TEXTURE_WRAP_S, t.CLAMP_TO_EDGE), t.texParameteri(t.TEXTURE_2D, t.TEXTURE_WRAP_T, t.CLAMP_TO_EDGE), n instanceof ImageData ? t.texImage2D(
          t.TEXTURE_2D,
          0,
          t.RGBA,
          t.RGBA,
          n.width,
          n.height,
          0,
          t.UNSIGNED_BYTE,
          new Uint8Array(n.data)
        ) : t.texImage2D(
          t.TEXTURE_2D,
          0,
          t.RGBA,
          t.RGBA,
          t.UNSIGNED_BYTE,
          n
        ), t.uniform1i(r.location, s++);
      else if (Array.isArray(n))
        switch (n.length) {
          case 2:
            t.uniform2f(r.location, n[0], n[1]);
            return;
          case 3:
            t.uniform3f(r.location, n[0], n[1], n[2]);
            return;
          case 4:
            t.uniform4f(
              r.location,
              n[0],
              n[1],
              n[2],
              n[3]
            );
            return;
          default:
            return;
        }
      else typeof n == "number" && t.uniform1f(r.location, n);
    });
  }
}
const Kt = {
  PROJECTION_MATRIX: "u_projectionMatrix",
  SCREEN_TO_WORLD_MATRIX: "u_screenToWorldMatrix",
  TIME: "u_time",
  ZOOM: "u_zoom",
  RESOLUTION: "u_resolution",
  ROTATION: "u_rotation",
  VIEWPORT_SIZE_PX: "u_viewportSizePx",
  PIXEL_RATIO: "u_pixelRatio",
  HIT_DETECTION: "u_hitDetection"
}, Ge = {
  UNSIGNED_BYTE: y0,
  UNSIGNED_SHORT: x0,
  UNSIGNED_INT: E0,
  FLOAT: Ou
}, Fr = {};
function Wc(i) {
  return "shared/" + i;
}
let Vc = 0;
function R0() {
  const i = "unique/" + Vc;
  return Vc += 1, i;
}
function w0(i) {
  let e = Fr[i];
  if (!e) {
    const t = document.createElement("canvas");
    t.width = 1, t.height = 1, t.style.position = "absolute", t.style.left = "0", e = { users: 0, context: v0(t) }, Fr[i] = e;
  }
  return e.users += 1, e.context;
}
function P0(i) {
  const e = Fr[i];
  if (!e || (e.users -= 1, e.users > 0))
    return;
  const t = e.context, n = t.getExtension("WEBGL_lose_context");
  n && n.loseContext();
  const s = t.canvas;
  s.width = 1, s.height = 1, delete Fr[i];
}
class I0 extends bs {
  /**
   * @param {Options} [options] Options.
   */
  constructor(e) {
    super(), e = e || {}, this.boundHandleWebGLContextLost_ = this.handleWebGLContextLost.bind(this), this.boundHandleWebGLContextRestored_ = this.handleWebGLContextRestored.bind(this), this.canvasCacheKey_ = e.canvasCacheKey ? Wc(e.canvasCacheKey) : R0(), this.gl_ = w0(this.canvasCacheKey_), this.bufferCache_ = {}, this.extensionCache_ = {}, this.currentProgram_ = null, this.needsToBeRecreated_ = !1;
    const t = this.gl_.canvas;
    t.addEventListener(
      lr.LOST,
      this.boundHandleWebGLContextLost_
    ), t.addEventListener(
      lr.RESTORED,
      this.boundHandleWebGLContextRestored_
    ), this.offsetRotateMatrix_ = we(), this.offsetScaleMatrix_ = we(), this.tmpMat4_ = Nu(), this.uniformLocationsByProgram_ = {}, this.attribLocationsByProgram_ = {}, this.uniforms_ = [], e.uniforms && this.setUniforms(e.uniforms), this.postProcessPasses_ = e.postProcesses ? e.postProcesses.map(
      (n) => new $c({
        webGlContext: this.gl_,
        scaleRatio: n.scaleRatio,
        vertexShader: n.vertexShader,
        fragmentShader: n.fragmentShader,
        uniforms: n.uniforms
      })
    ) : [new $c({ webGlContext: this.gl_ })], this.shaderCompileErrors_ = null, this.startTime_ = Date.now(), this.maxAttributeCount_ = this.gl_.getParameter(
      this.gl_.MAX_VERTEX_ATTRIBS
    );
  }
  /**
   * @param {Object<string, UniformValue>} uniforms Uniform definitions.
   */
  setUniforms(e) {
    this.uniforms_ = [], this.addUniforms(e);
  }
  /**
   * @param {Object<string, UniformValue>} uniforms Uniform definitions.
   */
  addUniforms(e) {
    for (const t in e)
      this.uniforms_.push({
        name: t,
        value: e[t]
      });
  }
  /**
   * @param {string} canvasCacheKey The canvas cache key.
   * @return {boolean} The provided key matches the one this helper was constructed with.
   */
  canvasCacheKeyMatches(e) {
    return this.canvasCacheKey_ === Wc(e);
  }
  /**
   * Get a WebGL extension.  If the extension is not supported, null is returned.
   * Extensions are cached after they are enabled for the first time.
   * @param {string} name The extension name.
   * @return {Object|null} The extension or null if not supported.
   */
  getExtension(e) {
    if (e in this.extensionCache_)
      return this.extensionCache_[e];
    const t = this.gl_.getExtension(e);
    return this.extensionCache_[e] = t, t;
  }
  /**
   * Will throw if the extension is not available
   * @return {ANGLE_instanced_arrays} Extension
   */
  getInstancedRenderingExtension_() {
    const e = this.getExtension("ANGLE_instanced_arrays");
    return ie(
      !!e,
      "WebGL extension 'ANGLE_instanced_arrays' is required for vector rendering"
    ), e;
  }
  /**
   * Just bind the buffer if it's in the cache. Otherwise create
   * the WebGL buffer, bind it, populate it, and add an entry to
   * the cache.
   * @param {import("./Buffer").default} buffer Buffer.
   */
  bindBuffer(e) {
    const t = this.gl_, n = z(e);
    let s = this.bufferCache_[n];
    if (!s) {
      const r = t.createBuffer();
      s = {
        buffer: e,
        webGlBuffer: r
      }, this.bufferCache_[n] = s;
    }
    t.bindBuffer(e.getType(), s.webGlBuffer);
  }
  /**
   * Update the data contained in the buffer array; this is required for the
   * new data to be rendered
   * @param {import("./Buffer").default} buffer Buffer.
   */
  flushBufferData(e) {
    const t = this.gl_;
    this.bindBuffer(e), t.bufferData(e.getType(), e.getArray(), e.getUsage());
  }
  /**
   * @param {import("./Buffer.js").default} buf Buffer.
   */
  deleteBuffer(e) {
    const t = z(e);
    delete this.bufferCache_[t];
  }
  /**
   * Clean up.
   * @override
   */
  disposeInternal() {
    const e = this.gl_.canvas;
    e.removeEventListener(
      lr.LOST,
      this.boundHandleWebGLContextLost_
    ), e.removeEventListener(
      lr.RESTORED,
      this.boundHandleWebGLContextRestored_
    ), P0(this.canvasCacheKey_), delete this.gl_;
  }
  /**
   * Clear the buffer & set the viewport to draw.
   * Post process passes will be initialized here, the first one being bound as a render target for
   * subsequent draw calls.
   * @param {import("../Map.js").FrameState} frameState current frame state
   * @param {boolean} [disableAlphaBlend] If true, no alpha blending will happen.
   * @param {boolean} [enableDepth] If true, enables depth testing.
   */
  prepareDraw(e, t, n) {
    const s = this.gl_, r = this.getCanvas(), o = e.size, a = e.pixelRatio;
    (r.width !== o[0] * a || r.height !== o[1] * a) && (r.width = o[0] * a, r.height = o[1] * a, r.style.width = o[0] + "px", r.style.height = o[1] + "px");
    for (let l = this.postProcessPasses_.length - 1; l >= 0; l--)
      this.postProcessPasses_[l].init(e);
    s.bindTexture(s.TEXTURE_2D, null), s.clearColor(0, 0, 0, 0), s.depthRange(0, 1), s.clearDepth(1), s.clear(s.COLOR_BUFFER_BIT | s.DEPTH_BUFFER_BIT), s.enable(s.BLEND), s.blendFunc(s.ONE, t ? s.ZERO : s.ONE_MINUS_SRC_ALPHA), n ? (s.enable(s.DEPTH_TEST), s.depthFunc(s.LEQUAL)) : s.disable(s.DEPTH_TEST);
  }
  /**
   * @param {WebGLFramebuffer|null} frameBuffer The frame buffer.
   * @param {WebGLTexture} [texture] The texture.
   */
  bindFrameBuffer(e, t) {
    const n = this.getGL();
    n.bindFramebuffer(n.FRAMEBUFFER, e), t && n.framebufferTexture2D(
      n.FRAMEBUFFER,
      n.COLOR_ATTACHMENT0,
      n.TEXTURE_2D,
      t,
      0
    );
  }
  /**
   * Bind the frame buffer from the initial render.
   */
  bindInitialFrameBuffer() {
    const e = this.getGL(), t = this.postProcessPasses_[0].getFrameBuffer();
    e.bindFramebuffer(e.FRAMEBUFFER, t);
    const n = this.postProcessPasses_[0].getRenderTargetTexture();
    e.framebufferTexture2D(
      e.FRAMEBUFFER,
      e.COLOR_ATTACHMENT0,
      e.TEXTURE_2D,
      n,
      0
    );
  }
  /**
   * Prepare a program to use a texture.
   * @param {WebGLTexture} texture The texture.
   * @param {number} slot The texture slot.
   * @param {string} uniformName The corresponding uniform name.
   */
  bindTexture(e, t, n) {
    const s = this.gl_;
    s.activeTexture(s.TEXTURE0 + t), s.bindTexture(s.TEXTURE_2D, e), s.uniform1i(this.getUniformLocation(n), t);
  }
  /**
   * Set up an attribute array buffer for use in the vertex shader.
   * @param {import("./Buffer").default} buffer The buffer.
   * @param {string} attributeName The attribute name.
   * @param {number} size The number of components per attribute vertex.
   */
  bindAttribute(e, t, n) {
    const s = this.getGL();
    this.bindBuffer(e);
    const r = this.getAttributeLocation(t);
    s.enableVertexAttribArray(r), s.vertexAttribPointer(r, n, s.FLOAT, !1, 0, 0);
  }
  /**
   * Clear the render target & bind it for future draw operations.
   * This is similar to `prepareDraw`, only post processes will not be applied.
   * Note: the whole viewport will be drawn to the render target, regardless of its size.
   * @param {import("../Map.js").FrameState} frameState current frame state
   * @param {import("./RenderTarget.js").default} renderTarget Render target to draw to
   * @param {boolean} [disableAlphaBlend] If true, no alpha blending will happen.
   * @param {boolean} [enableDepth] If true, enables depth testing.
   */
  prepareDrawToRenderTarget(e, t, n, s) {
    const r = this.gl_, o = t.getSize();
    r.bindFramebuffer(r.FRAMEBUFFER, t.getFramebuffer()), r.bindRenderbuffer(r.RENDERBUFFER, t.getDepthbuffer()), r.viewport(0, 0, o[0], o[1]), r.bindTexture(r.TEXTURE_2D, t.getTexture()), r.clearColor(0, 0, 0, 0), r.depthRange(0, 1), r.clearDepth(1), r.clear(r.COLOR_BUFFER_BIT | r.DEPTH_BUFFER_BIT), r.enable(r.BLEND), r.blendFunc(r.ONE, n ? r.ZERO : r.ONE_MINUS_SRC_ALPHA), s ? (r.enable(r.DEPTH_TEST), r.depthFunc(r.LEQUAL)) : r.disable(r.DEPTH_TEST);
  }
  /**
   * Execute a draw call based on the currently bound program, texture, buffers, attributes.
   * @param {number} start Start index.
   * @param {number} end End index.
   */
  drawElements(e, t) {
    const n = this.gl_;
    this.getExtension("OES_element_index_uint");
    const s = n.UNSIGNED_INT, r = 4, o = t - e, a = e * r;
    n.drawElements(n.TRIANGLES, o, s, a);
  }
  /**
   * Execute a draw call similar to `drawElements`, but using instanced rendering.
   * Will have no effect if `enableAttributesInstanced` was not called for this rendering pass.
   * @param {number} start Start index.
   * @param {number} end End index.
   * @param {number} instanceCount The number of instances to render
   */
  drawElementsInstanced(e, t, n) {
    const s = this.gl_;
    this.getExtension("OES_element_index_uint");
    const r = this.getInstancedRenderingExtension_(), o = s.UNSIGNED_INT, a = 4, l = t - e, c = e * a;
    r.drawElementsInstancedANGLE(
      s.TRIANGLES,
      l,
      o,
      c,
      n
    );
    for (let h = 0; h < this.maxAttributeCount_; h++)
      r.vertexAttribDivisorANGLE(h, 0);
  }
  /**
   * Apply the successive post process passes which will eventually render to the actual canvas.
   * @param {import("../Map.js").FrameState} frameState current frame state
   * @param {function(WebGLRenderingContext, import("../Map.js").FrameState):void} [preCompose] Called before composing.
   * @param {function(WebGLRenderingContext, import("../Map.js").FrameState):void} [postCompose] Called before composing.
   */
  finalizeDraw(e, t, n) {
    for (let s = 0, r = this.postProcessPasses_.length; s < r; s++)
      s === r - 1 ? this.postProcessPasses_[s].apply(
        e,
        null,
        t,
        n
      ) : this.postProcessPasses_[s].apply(
        e,
        this.postProcessPasses_[s + 1]
      );
  }
  /**
   * @return {HTMLCanvasElement} Canvas.
   */
  getCanvas() {
    return (
      /** @type {HTMLCanvasElement} */
      this.gl_.canvas
    );
  }
  /**
   * Get the WebGL rendering context
   * @return {WebGLRenderingContext} The rendering context.
   */
  getGL() {
    return this.gl_;
  }
  /**
   * Sets the default matrix uniforms for a given frame state. This is called internally in `prepareDraw`.
   * @param {import("../Map.js").FrameState} frameState Frame state.
   */
  applyFrameState(e) {
    const t = e.size, n = e.viewState.rotation, s = e.pixelRatio;
    this.setUniformFloatValue(
      Kt.TIME,
      (Date.now() - this.startTime_) * 1e-3
    ), this.setUniformFloatValue(Kt.ZOOM, e.viewState.zoom), this.setUniformFloatValue(
      Kt.RESOLUTION,
      e.viewState.resolution
    ), this.setUniformFloatValue(Kt.PIXEL_RATIO, s), this.setUniformFloatVec2(Kt.VIEWPORT_SIZE_PX, [
      t[0],
      t[1]
    ]), this.setUniformFloatValue(Kt.ROTATION, n);
  }
  /**
   * Sets the `u_hitDetection` uniform.
   * @param {boolean} enabled Whether to enable the hit detection code path
   */
  applyHitDetectionUniform(e) {
    const t = this.getUniformLocation(Kt.HIT_DETECTION);
    this.getGL().uniform1i(t, e ? 1 : 0), e && this.setUniformFloatValue(Kt.PIXEL_RATIO, 0.5);
  }
  /**
   * Sets the custom uniforms based on what was given in the constructor. This is called internally in `prepareDraw`.
   * @param {import("../Map.js").FrameState} frameState Frame state.
   */
  applyUniforms(e) {
    const t = this.gl_;
    let n, s = 0;
    this.uniforms_.forEach((r) => {
      if (n = typeof r.value == "function" ? r.value(e) : r.value, n instanceof HTMLCanvasElement || n instanceof HTMLImageElement || n instanceof ImageData || n instanceof WebGLTexture) {
        n instanceof WebGLTexture && !r.texture ? (r.prevValue = void 0, r.texture = n) : r.texture || (r.prevValue = void 0, r.texture = t.createTexture()), this.bindTexture(r.texture, s, r.name), t.texParameteri(t.TEXTURE_2D, t.TEXTURE_MIN_FILTER, t.LINEAR), t.texParameteri(t.TEXTURE_2D, t.TEXTURE_WRAP_S, t.CLAMP_TO_EDGE), t.texParameteri(t.TEXTURE_2D, t.TEXTURE_WRAP_T, t.CLAMP_TO_EDGE);
        const o = !(n instanceof HTMLImageElement) || /** @type {HTMLImageElement} */
        n.complete;
        !(n instanceof WebGLTexture) && o && r.prevValue !== n && (r.prevValue = n, t.texImage2D(
          t.TEXTURE_2D,
          0,
          t.RGBA,
          t.RGBA,
          t.UNSIGNED_BYTE,
          n
        )), s++;
      } else if (Array.isArray(n) && n.length === 6)
        this.setUniformMatrixValue(
          r.name,
          ga(this.tmpMat4_, n)
        );
      else if (Array.isArray(n) && n.length <= 4)
        switch (n.length) {
          case 2:
            t.uniform2f(
              this.getUniformLocation(r.name),
              n[0],
              n[1]
            );
            return;
          case 3:
            t.uniform3f(
              this.getUniformLocation(r.name),
              n[0],
              n[1],
              n[2]
            );
            return;
          case 4:
            t.uniform4f(
              this.getUniformLocation(r.name),
              n[0],
              n[1],
              n[2],
              n[3]
            );
            return;
          default:
            return;
        }
      else typeof n == "number" && t.uniform1f(this.getUniformLocation(r.name), n);
    });
  }
  /**
   * Set up a program for use. The program will be set as the current one. Then, the uniforms used
   * in the program will be set based on the current frame state and the helper configuration.
   * @param {WebGLProgram} program Program.
   * @param {import("../Map.js").FrameState} [frameState] Frame state.
   */
  useProgram(e, t) {
    this.disableAllAttributes_(), this.gl_.useProgram(e), this.currentProgram_ = e, t && (this.applyFrameState(t), this.applyUniforms(t));
  }
  /**
   * Will attempt to compile a vertex or fragment shader based on source
   * On error, the shader will be returned but
   * `gl.getShaderParameter(shader, gl.COMPILE_STATUS)` will return `true`
   * Use `gl.getShaderInfoLog(shader)` to have details
   * @param {string} source Shader source
   * @param {ShaderType} type VERTEX_SHADER or FRAGMENT_SHADER
   * @return {WebGLShader} Shader object
   */
  compileShader(e, t) {
    const n = this.gl_, s = n.createShader(t);
    return n.shaderSource(s, e), n.compileShader(s), s;
  }
  /**
   * Create a program for a vertex and fragment shader.  Throws if shader compilation fails.
   * @param {string} fragmentShaderSource Fragment shader source.
   * @param {string} vertexShaderSource Vertex shader source.
   * @return {WebGLProgram} Program
   */
  getProgram(e, t) {
    const n = this.gl_, s = this.compileShader(
      e,
      n.FRAGMENT_SHADER
    ), r = this.compileShader(
      t,
      n.VERTEX_SHADER
    ), o = n.createProgram();
    if (n.attachShader(o, s), n.attachShader(o, r), n.linkProgram(o), !n.getShaderParameter(s, n.COMPILE_STATUS)) {
      const a = `Fragment shader compilation failed: ${n.getShaderInfoLog(
        s
      )}`;
      throw new Error(a);
    }
    if (n.deleteShader(s), !n.getShaderParameter(r, n.COMPILE_STATUS)) {
      const a = `Vertex shader compilation failed: ${n.getShaderInfoLog(
        r
      )}`;
      throw new Error(a);
    }
    if (n.deleteShader(r), !n.getProgramParameter(o, n.LINK_STATUS)) {
      const a = `GL program linking failed: ${n.getProgramInfoLog(
        o
      )}`;
      throw new Error(a);
    }
    return o;
  }
  /**
   * Will get the location from the shader or the cache
   * @param {string} name Uniform name
   * @return {WebGLUniformLocation} uniformLocation
   */
  getUniformLocation(e) {
    const t = z(this.currentProgram_);
    return this.uniformLocationsByProgram_[t] === void 0 && (this.uniformLocationsByProgram_[t] = {}), this.uniformLocationsByProgram_[t][e] === void 0 && (this.uniformLocationsByProgram_[t][e] = this.gl_.getUniformLocation(this.currentProgram_, e)), this.uniformLocationsByProgram_[t][e];
  }
  /**
   * Will get the location from the shader or the cache
   * @param {string} name Attribute name
   * @return {number} attribLocation
   */
  getAttributeLocation(e) {
    const t = z(this.currentProgram_);
    return this.attribLocationsByProgram_[t] === void 0 && (this.attribLocationsByProgram_[t] = {}), this.attribLocationsByProgram_[t][e] === void 0 && (this.attribLocationsByProgram_[t][e] = this.gl_.getAttribLocation(this.currentProgram_, e)), this.attribLocationsByProgram_[t][e];
  }
  /**
   * Sets the given transform to apply the rotation/translation/scaling of the given frame state.
   * The resulting transform can be used to convert world space coordinates to view coordinates in the [-1, 1] range.
   * @param {import("../Map.js").FrameState} frameState Frame state.
   * @param {import("../transform").Transform} transform Transform to update.
   * @return {import("../transform").Transform} The updated transform object.
   */
  makeProjectionTransform(e, t) {
    const n = e.size, s = e.viewState.rotation, r = e.viewState.resolution, o = e.viewState.center;
    return wt(
      t,
      0,
      0,
      2 / (r * n[0]),
      2 / (r * n[1]),
      -s,
      -o[0],
      -o[1]
    ), t;
  }
  /**
   * Give a value for a standard float uniform
   * @param {string} uniform Uniform name
   * @param {number} value Value
   */
  setUniformFloatValue(e, t) {
    this.gl_.uniform1f(this.getUniformLocation(e), t);
  }
  /**
   * Give a value for a vec2 uniform
   * @param {string} uniform Uniform name
   * @param {Array<number>} value Array of length 4.
   */
  setUniformFloatVec2(e, t) {
    this.gl_.uniform2fv(this.getUniformLocation(e), t);
  }
  /**
   * Give a value for a vec4 uniform
   * @param {string} uniform Uniform name
   * @param {Array<number>} value Array of length 4.
   */
  setUniformFloatVec4(e, t) {
    this.gl_.uniform4fv(this.getUniformLocation(e), t);
  }
  /**
   * Give a value for a standard matrix4 uniform
   * @param {string} uniform Uniform name
   * @param {Array<number>} value Matrix value
   */
  setUniformMatrixValue(e, t) {
    this.gl_.uniformMatrix4fv(this.getUniformLocation(e), !1, t);
  }
  /**
   * Disable all vertex attributes.
   * @private
   */
  disableAllAttributes_() {
    for (let e = 0; e < this.maxAttributeCount_; e++)
      this.gl_.disableVertexAttribArray(e);
  }
  /**
   * Will set the currently bound buffer to an attribute of the shader program. Used by `#enableAttributes`
   * internally.
   * @param {string} attribName Attribute name
   * @param {number} size Number of components per attributes
   * @param {number} type UNSIGNED_INT, UNSIGNED_BYTE, UNSIGNED_SHORT or FLOAT
   * @param {number} stride Stride in bytes (0 means attribs are packed)
   * @param {number} offset Offset in bytes
   * @param {boolean} instanced Whether the attribute is used for instanced rendering
   * @private
   */
  enableAttributeArray_(e, t, n, s, r, o) {
    const a = this.getAttributeLocation(e);
    a < 0 || (this.gl_.enableVertexAttribArray(a), this.gl_.vertexAttribPointer(a, t, n, !1, s, r), o && this.getInstancedRenderingExtension_().vertexAttribDivisorANGLE(
      a,
      1
    ));
  }
  /**
   * @private
   * @param {Array<AttributeDescription>} attributes Ordered list of attributes to read from the buffer
   * @param {boolean} instanced Whether the attributes are instanced.
   */
  enableAttributes_(e, t) {
    const n = A0(e);
    let s = 0;
    for (let r = 0; r < e.length; r++) {
      const o = e[r];
      o.name && this.enableAttributeArray_(
        o.name,
        o.size,
        o.type || Ou,
        n,
        s,
        t
      ), s += o.size * ku(o.type);
    }
  }
  /**
   * Will enable the following attributes to be read from the currently bound buffer,
   * i.e. tell the GPU where to read the different attributes in the buffer. An error in the
   * size/type/order of attributes will most likely break the rendering and throw a WebGL exception.
   * @param {Array<AttributeDescription>} attributes Ordered list of attributes to read from the buffer
   */
  enableAttributes(e) {
    this.enableAttributes_(e, !1);
  }
  /**
   * Will enable these attributes as instanced, meaning that they will only be read
   * once per instance instead of per vertex.
   * @param {Array<AttributeDescription>} attributes Ordered list of attributes to read from the buffer
   */
  enableAttributesInstanced(e) {
    this.enableAttributes_(e, !0);
  }
  /**
   * WebGL context was lost
   * @param {WebGLContextEvent} event The context loss event.
   * @private
   */
  handleWebGLContextLost(e) {
    Mi(this.bufferCache_), this.currentProgram_ = null, e.preventDefault();
  }
  /**
   * WebGL context was restored
   * @private
   */
  handleWebGLContextRestored() {
    this.needsToBeRecreated_ = !0;
  }
  /**
   * Returns whether this helper needs to be recreated, as the context was lost and then restored.
   * @return {boolean} Whether this helper needs to be recreated.
   */
  needsToBeRecreated() {
    return this.needsToBeRecreated_;
  }
  /**
   * Will create or reuse a given webgl texture and apply the given size. If no image data
   * specified, the texture will be empty, otherwise image data will be used and the `size`
   * parameter will be ignored.  If a Uint8Array is provided for data, a size must also be provided.
   * Note: wrap parameters are set to clamp to edge, min filter is set to linear.
   * @param {Array<number>} size Expected size of the texture
   * @param {ImageData|HTMLImageElement|HTMLCanvasElement|Uint8Array|null} data Image data/object to bind to the texture
   * @param {WebGLTexture} [texture] Existing texture to reuse
   * @param {boolean} [nearest] Use gl.NEAREST for min/mag filter.
   * @return {WebGLTexture} The generated texture
   */
  createTexture(e, t, n, s) {
    const r = this.gl_;
    n = n || r.createTexture();
    const o = s ? r.NEAREST : r.LINEAR;
    r.bindTexture(r.TEXTURE_2D, n), r.texParameteri(r.TEXTURE_2D, r.TEXTURE_MIN_FILTER, o), r.texParameteri(r.TEXTURE_2D, r.TEXTURE_MAG_FILTER, o), r.texParameteri(r.TEXTURE_2D, r.TEXTURE_WRAP_S, r.CLAMP_TO_EDGE), r.texParameteri(r.TEXTURE_2D, r.TEXTURE_WRAP_T, r.CLAMP_TO_EDGE);
    const a = 0, l = r.RGBA, c = 0, h = r.RGBA, u = r.UNSIGNED_BYTE;
    return t instanceof Uint8Array ? r.texImage2D(
      r.TEXTURE_2D,
      a,
      l,
      e[0],
      e[1],
      c,
      h,
      u,
      t
    ) : t ? r.texImage2D(r.TEXTURE_2D, a, l, h, u, t) : r.texImage2D(
      r.TEXTURE_2D,
      a,
      l,
      e[0],
      e[1],
      c,
      h,
      u,
      null
    ), n;
  }
}
function A0(i) {
  let e = 0;
  for (let t = 0; t < i.length; t++) {
    const n = i[t];
    e += n.size * ku(n.type);
  }
  return e;
}
function ku(i) {
  switch (i) {
    case Ge.UNSIGNED_BYTE:
      return Uint8Array.BYTES_PER_ELEMENT;
    case Ge.UNSIGNED_SHORT:
      return Uint16Array.BYTES_PER_ELEMENT;
    case Ge.UNSIGNED_INT:
      return Uint32Array.BYTES_PER_ELEMENT;
    case Ge.FLOAT:
    default:
      return Float32Array.BYTES_PER_ELEMENT;
  }
}
function F0() {
  const i = 'function t(t,n,x=2){const o=n&&n.length,i=o?n[0]*x:t.length;let f=e(t,0,i,x,!0);const l=[];if(!f||f.next===f.prev)return l;let c,y,h;if(o&&(f=function(t,n,r,x){const o=[];for(let r=0,i=n.length;r<i;r++){const f=e(t,n[r]*x,r<i-1?n[r+1]*x:t.length,x,!1);f===f.next&&(f.steiner=!0),o.push(a(f))}o.sort(u);for(let t=0;t<o.length;t++)r=s(o[t],r);return r}(t,n,f,x)),t.length>80*x){c=t[0],y=t[1];let e=c,n=y;for(let r=x;r<i;r+=x){const x=t[r],o=t[r+1];x<c&&(c=x),o<y&&(y=o),x>e&&(e=x),o>n&&(n=o)}h=Math.max(e-c,n-y),h=0!==h?32767/h:0}return r(f,l,x,c,y,h,0),l}function e(t,e,n,r,x){let o;if(x===function(t,e,n,r){let x=0;for(let o=e,i=n-r;o<n;o+=r)x+=(t[i]-t[o])*(t[o+1]+t[i+1]),i=o;return x}(t,e,n,r)>0)for(let x=e;x<n;x+=r)o=d(x/r|0,t[x],t[x+1],o);else for(let x=n-r;x>=e;x-=r)o=d(x/r|0,t[x],t[x+1],o);return o&&b(o,o.next)&&(w(o),o=o.next),o}function n(t,e){if(!t)return t;e||(e=t);let n,r=t;do{if(n=!1,r.steiner||!b(r,r.next)&&0!==v(r.prev,r,r.next))r=r.next;else{if(w(r),r=e=r.prev,r===r.next)break;n=!0}}while(n||r!==e);return e}function r(t,e,u,s,l,a,y){if(!t)return;!y&&a&&function(t,e,n,r){let x=t;do{0===x.z&&(x.z=c(x.x,x.y,e,n,r)),x.prevZ=x.prev,x.nextZ=x.next,x=x.next}while(x!==t);x.prevZ.nextZ=null,x.prevZ=null,function(t){let e,n=1;do{let r,x=t;t=null;let o=null;for(e=0;x;){e++;let i=x,f=0;for(let t=0;t<n&&(f++,i=i.nextZ,i);t++);let u=n;for(;f>0||u>0&&i;)0!==f&&(0===u||!i||x.z<=i.z)?(r=x,x=x.nextZ,f--):(r=i,i=i.nextZ,u--),o?o.nextZ=r:t=r,r.prevZ=o,o=r;x=i}o.nextZ=null,n*=2}while(e>1)}(x)}(t,s,l,a);let h=t;for(;t.prev!==t.next;){const c=t.prev,p=t.next;if(a?o(t,s,l,a):x(t))e.push(c.i,t.i,p.i),w(t),t=p.next,h=p.next;else if((t=p)===h){y?1===y?r(t=i(n(t),e),e,u,s,l,a,2):2===y&&f(t,e,u,s,l,a):r(n(t),e,u,s,l,a,1);break}}}function x(t){const e=t.prev,n=t,r=t.next;if(v(e,n,r)>=0)return!1;const x=e.x,o=n.x,i=r.x,f=e.y,u=n.y,s=r.y,l=Math.min(x,o,i),c=Math.min(f,u,s),a=Math.max(x,o,i),y=Math.max(f,u,s);let p=r.next;for(;p!==e;){if(p.x>=l&&p.x<=a&&p.y>=c&&p.y<=y&&h(x,f,o,u,i,s,p.x,p.y)&&v(p.prev,p,p.next)>=0)return!1;p=p.next}return!0}function o(t,e,n,r){const x=t.prev,o=t,i=t.next;if(v(x,o,i)>=0)return!1;const f=x.x,u=o.x,s=i.x,l=x.y,a=o.y,y=i.y,p=Math.min(f,u,s),b=Math.min(l,a,y),M=Math.max(f,u,s),m=Math.max(l,a,y),A=c(p,b,e,n,r),g=c(M,m,e,n,r);let Z=t.prevZ,d=t.nextZ;for(;Z&&Z.z>=A&&d&&d.z<=g;){if(Z.x>=p&&Z.x<=M&&Z.y>=b&&Z.y<=m&&Z!==x&&Z!==i&&h(f,l,u,a,s,y,Z.x,Z.y)&&v(Z.prev,Z,Z.next)>=0)return!1;if(Z=Z.prevZ,d.x>=p&&d.x<=M&&d.y>=b&&d.y<=m&&d!==x&&d!==i&&h(f,l,u,a,s,y,d.x,d.y)&&v(d.prev,d,d.next)>=0)return!1;d=d.nextZ}for(;Z&&Z.z>=A;){if(Z.x>=p&&Z.x<=M&&Z.y>=b&&Z.y<=m&&Z!==x&&Z!==i&&h(f,l,u,a,s,y,Z.x,Z.y)&&v(Z.prev,Z,Z.next)>=0)return!1;Z=Z.prevZ}for(;d&&d.z<=g;){if(d.x>=p&&d.x<=M&&d.y>=b&&d.y<=m&&d!==x&&d!==i&&h(f,l,u,a,s,y,d.x,d.y)&&v(d.prev,d,d.next)>=0)return!1;d=d.nextZ}return!0}function i(t,e){let r=t;do{const n=r.prev,x=r.next.next;!b(n,x)&&M(n,r,r.next,x)&&g(n,x)&&g(x,n)&&(e.push(n.i,r.i,x.i),w(r),w(r.next),r=t=x),r=r.next}while(r!==t);return n(r)}function f(t,e,x,o,i,f){let u=t;do{let t=u.next.next;for(;t!==u.prev;){if(u.i!==t.i&&p(u,t)){let s=Z(u,t);return u=n(u,u.next),s=n(s,s.next),r(u,e,x,o,i,f,0),void r(s,e,x,o,i,f,0)}t=t.next}u=u.next}while(u!==t)}function u(t,e){let n=t.x-e.x;if(0===n&&(n=t.y-e.y,0===n)){n=(t.next.y-t.y)/(t.next.x-t.x)-(e.next.y-e.y)/(e.next.x-e.x)}return n}function s(t,e){const r=function(t,e){let n=e;const r=t.x,x=t.y;let o,i=-1/0;if(b(t,n))return n;do{if(b(t,n.next))return n.next;if(x<=n.y&&x>=n.next.y&&n.next.y!==n.y){const t=n.x+(x-n.y)*(n.next.x-n.x)/(n.next.y-n.y);if(t<=r&&t>i&&(i=t,o=n.x<n.next.x?n:n.next,t===r))return o}n=n.next}while(n!==e);if(!o)return null;const f=o,u=o.x,s=o.y;let c=1/0;n=o;do{if(r>=n.x&&n.x>=u&&r!==n.x&&y(x<s?r:i,x,u,s,x<s?i:r,x,n.x,n.y)){const e=Math.abs(x-n.y)/(r-n.x);g(n,t)&&(e<c||e===c&&(n.x>o.x||n.x===o.x&&l(o,n)))&&(o=n,c=e)}n=n.next}while(n!==f);return o}(t,e);if(!r)return e;const x=Z(r,t);return n(x,x.next),n(r,r.next)}function l(t,e){return v(t.prev,t,e.prev)<0&&v(e.next,t,t.next)<0}function c(t,e,n,r,x){return(t=1431655765&((t=858993459&((t=252645135&((t=16711935&((t=(t-n)*x|0)|t<<8))|t<<4))|t<<2))|t<<1))|(e=1431655765&((e=858993459&((e=252645135&((e=16711935&((e=(e-r)*x|0)|e<<8))|e<<4))|e<<2))|e<<1))<<1}function a(t){let e=t,n=t;do{(e.x<n.x||e.x===n.x&&e.y<n.y)&&(n=e),e=e.next}while(e!==t);return n}function y(t,e,n,r,x,o,i,f){return(x-i)*(e-f)>=(t-i)*(o-f)&&(t-i)*(r-f)>=(n-i)*(e-f)&&(n-i)*(o-f)>=(x-i)*(r-f)}function h(t,e,n,r,x,o,i,f){return!(t===i&&e===f)&&y(t,e,n,r,x,o,i,f)}function p(t,e){return t.next.i!==e.i&&t.prev.i!==e.i&&!function(t,e){let n=t;do{if(n.i!==t.i&&n.next.i!==t.i&&n.i!==e.i&&n.next.i!==e.i&&M(n,n.next,t,e))return!0;n=n.next}while(n!==t);return!1}(t,e)&&(g(t,e)&&g(e,t)&&function(t,e){let n=t,r=!1;const x=(t.x+e.x)/2,o=(t.y+e.y)/2;do{n.y>o!=n.next.y>o&&n.next.y!==n.y&&x<(n.next.x-n.x)*(o-n.y)/(n.next.y-n.y)+n.x&&(r=!r),n=n.next}while(n!==t);return r}(t,e)&&(v(t.prev,t,e.prev)||v(t,e.prev,e))||b(t,e)&&v(t.prev,t,t.next)>0&&v(e.prev,e,e.next)>0)}function v(t,e,n){return(e.y-t.y)*(n.x-e.x)-(e.x-t.x)*(n.y-e.y)}function b(t,e){return t.x===e.x&&t.y===e.y}function M(t,e,n,r){const x=A(v(t,e,n)),o=A(v(t,e,r)),i=A(v(n,r,t)),f=A(v(n,r,e));return x!==o&&i!==f||(!(0!==x||!m(t,n,e))||(!(0!==o||!m(t,r,e))||(!(0!==i||!m(n,t,r))||!(0!==f||!m(n,e,r)))))}function m(t,e,n){return e.x<=Math.max(t.x,n.x)&&e.x>=Math.min(t.x,n.x)&&e.y<=Math.max(t.y,n.y)&&e.y>=Math.min(t.y,n.y)}function A(t){return t>0?1:t<0?-1:0}function g(t,e){return v(t.prev,t,t.next)<0?v(t,e,t.next)>=0&&v(t,t.prev,e)>=0:v(t,e,t.prev)<0||v(t,t.next,e)<0}function Z(t,e){const n=F(t.i,t.x,t.y),r=F(e.i,e.x,e.y),x=t.next,o=e.prev;return t.next=e,e.prev=t,n.next=x,x.prev=n,r.next=n,n.prev=r,o.next=r,r.prev=o,r}function d(t,e,n,r){const x=F(t,e,n);return r?(x.next=r.next,x.prev=r,r.next.prev=x,r.next=x):(x.prev=x,x.next=x),x}function w(t){t.next.prev=t.prev,t.prev.next=t.next,t.prevZ&&(t.prevZ.nextZ=t.nextZ),t.nextZ&&(t.nextZ.prevZ=t.prevZ)}function F(t,e,n){return{i:t,x:e,y:n,prev:null,next:null,z:0,prevZ:null,nextZ:null,steiner:!1}}function E(t,e){const n=e[0],r=e[1];return e[0]=t[0]*n+t[2]*r+t[4],e[1]=t[1]*n+t[3]*r+t[5],e}function I(t,e){const n=(r=e)[0]*r[3]-r[1]*r[2];var r;!function(t,e){if(!t)throw new Error(e)}(0!==n,"Transformation matrix cannot be inverted");const x=e[0],o=e[1],i=e[2],f=e[3],u=e[4],s=e[5];return t[0]=f/n,t[1]=-o/n,t[2]=-i/n,t[3]=x/n,t[4]=(i*s-f*u)/n,t[5]=-(x*s-o*u)/n,t}new Array(6);const z=[],B={vertexAttributesPosition:0,instanceAttributesPosition:0,indicesPosition:0};function P(t,e,n,r,x){const o=t[e++],i=t[e++],f=z;f.length=r;for(let n=0;n<f.length;n++)f[n]=t[e+n];let u=x?x.instanceAttributesPosition:0;return n[u++]=o,n[u++]=i,f.length&&(n.set(f,u),u+=f.length),B.instanceAttributesPosition=u,B}function N(t,e,n,r,x,o,i,f,u,s){const l=[t[e],t[e+1]],c=[t[n],t[n+1]],a=t[e+2],y=t[n+2],h=E(f,[...l]),p=E(f,[...c]);function v(t,e,n){const r=Math.sqrt((e[0]-t[0])*(e[0]-t[0])+(e[1]-t[1])*(e[1]-t[1])),x=[(e[0]-t[0])/r,(e[1]-t[1])/r],o=[-x[1],x[0]],i=Math.sqrt((n[0]-t[0])*(n[0]-t[0])+(n[1]-t[1])*(n[1]-t[1])),f=[(n[0]-t[0])/i,(n[1]-t[1])/i];let u=0===r||0===i?0:Math.acos((s=f[0]*x[0]+f[1]*x[1],l=-1,c=1,Math.min(Math.max(s,l),c)));var s,l,c;u=Math.max(u,1e-5);return f[0]*o[0]+f[1]*o[1]>0?u:2*Math.PI-u}let b=-1,M=-1,m=s;const A=null!==x;if(null!==r){b=v(h,p,E(f,[...[t[r],t[r+1]]])),Math.cos(b)<=.985&&(m+=Math.tan((b-Math.PI)/2))}if(A){M=v(p,h,E(f,[...[t[x],t[x+1]]])),Math.cos(M)<=.985&&(m+=Math.tan((Math.PI-M)/2))}const g=Math.pow(2,24),Z=u%g,d=Math.floor(u/g)*g;return o.push(l[0],l[1],a,c[0],c[1],y,b,M,Z,d,s),o.push(...i),{length:u+Math.sqrt((p[0]-h[0])*(p[0]-h[0])+(p[1]-h[1])*(p[1]-h[1])),angle:m}}function R(e,n,r,x,o){const i=2+o;let f=n;const u=e.slice(f,f+o);f+=o;const s=e[f++];let l=0;const c=new Array(s-1);for(let t=0;t<s;t++)l+=e[f++],t<s-1&&(c[t]=l);const a=e.slice(f,f+2*l),y=t(a,c,2);for(let t=0;t<y.length;t++)x.push(y[t]+r.length/i);for(let t=0;t<a.length;t+=2)r.push(a[t],a[t+1],...u);return f+2*l}const S="GENERATE_POLYGON_BUFFERS",T="GENERATE_POINT_BUFFERS",_="GENERATE_LINE_STRING_BUFFERS",O=self;O.onmessage=t=>{const e=t.data;switch(e.type){case T:{const t=2,n=2,r=e.customAttributesSize,x=n+r,o=new Float32Array(e.renderInstructions),i=o.length/x*(t+r),f=Uint32Array.from([0,1,3,1,2,3]),u=Float32Array.from([-1,-1,1,-1,1,1,-1,1]),s=new Float32Array(i);let l;for(let t=0;t<o.length;t+=x)l=P(o,t,s,r,l);const c=Object.assign({indicesBuffer:f.buffer,vertexAttributesBuffer:u.buffer,instanceAttributesBuffer:s.buffer,renderInstructions:o.buffer},e);O.postMessage(c,[u.buffer,s.buffer,f.buffer,o.buffer]);break}case _:{const t=[],n=e.customAttributesSize,r=3,x=new Float32Array(e.renderInstructions);let o=0;const i=[1,0,0,1,0,0];let f,u;for(I(i,e.renderInstructionsTransform);o<x.length;){u=Array.from(x.slice(o,o+n)),o+=n,f=x[o++];const e=o,s=o+(f-1)*r,l=x[e]===x[s]&&x[e+1]===x[s+1];let c=0,a=0;for(let n=0;n<f-1;n++){let y=null;n>0?y=o+(n-1)*r:l&&(y=s-r);let h=null;n<f-2?h=o+(n+2)*r:l&&(h=e+r);const p=N(x,o+n*r,o+(n+1)*r,y,h,t,u,i,c,a);c=p.length,a=p.angle}o+=f*r}const s=Uint32Array.from([0,1,3,1,2,3]),l=Float32Array.from([-1,-1,1,-1,1,1,-1,1]),c=Float32Array.from(t),a=Object.assign({indicesBuffer:s.buffer,vertexAttributesBuffer:l.buffer,instanceAttributesBuffer:c.buffer,renderInstructions:x.buffer},e);O.postMessage(a,[l.buffer,c.buffer,s.buffer,x.buffer]);break}case S:{const t=[],n=[],r=e.customAttributesSize,x=new Float32Array(e.renderInstructions);let o=0;for(;o<x.length;)o=R(x,o,t,n,r);const i=Uint32Array.from(n),f=Float32Array.from(t),u=Float32Array.from([]),s=Object.assign({indicesBuffer:i.buffer,vertexAttributesBuffer:f.buffer,instanceAttributesBuffer:u.buffer,renderInstructions:x.buffer},e);O.postMessage(s,[f.buffer,u.buffer,i.buffer,x.buffer]);break}}};';
  return new Worker(typeof Blob > "u" ? "data:application/javascript;base64," + Buffer.from(i, "binary").toString("base64") : URL.createObjectURL(new Blob([i], { type: "application/javascript" })));
}
const No = {
  GENERATE_POLYGON_BUFFERS: "GENERATE_POLYGON_BUFFERS",
  GENERATE_POINT_BUFFERS: "GENERATE_POINT_BUFFERS",
  GENERATE_LINE_STRING_BUFFERS: "GENERATE_LINE_STRING_BUFFERS"
};
function b0(i, e) {
  e = e || [];
  const t = 256, n = t - 1, s = Math.floor(i / t / t / t) / n, r = Math.floor(i / t / t) % t / n, o = Math.floor(i / t) % t / n, a = i % t / n;
  return e[0] = s * 256 * 255 + r * 255, e[1] = o * 256 * 255 + a * 255, e;
}
function L0(i) {
  let e = 0;
  const t = 256, n = t - 1;
  return e += Math.round(i[0] * t * t * t * n), e += Math.round(i[1] * t * t * n), e += Math.round(i[2] * t * n), e += Math.round(i[3] * n), e;
}
function _a(i) {
  return i instanceof Image || i instanceof HTMLCanvasElement || i instanceof HTMLVideoElement || i instanceof ImageBitmap ? i : null;
}
const M0 = new Error("disposed"), D0 = [256, 256];
class Xc extends sl {
  /**
   * @param {Options} options Tile options.
   */
  constructor(e) {
    const t = W.IDLE;
    super(e.tileCoord, t, {
      transition: e.transition,
      interpolate: e.interpolate
    }), this.loader_ = e.loader, this.data_ = null, this.error_ = null, this.size_ = e.size || null, this.controller_ = e.controller || null;
  }
  /**
   * Get the tile size.
   * @return {import('./size.js').Size} Tile size.
   */
  getSize() {
    if (this.size_)
      return this.size_;
    const e = _a(this.data_);
    return e ? [e.width, e.height] : D0;
  }
  /**
   * Get the data for the tile.
   * @return {Data} Tile data.
   * @api
   */
  getData() {
    return this.data_;
  }
  /**
   * Get any loading error.
   * @return {Error} Loading error.
   * @api
   */
  getError() {
    return this.error_;
  }
  /**
   * Load the tile data.
   * @api
   * @override
   */
  load() {
    if (this.state !== W.IDLE && this.state !== W.ERROR)
      return;
    this.state = W.LOADING, this.changed();
    const e = this;
    this.loader_().then(function(t) {
      e.data_ = t, e.state = W.LOADED, e.changed();
    }).catch(function(t) {
      e.error_ = t, e.state = W.ERROR, e.changed();
    });
  }
  /**
   * Clean up.
   * @override
   */
  disposeInternal() {
    this.controller_ && (this.controller_.abort(M0), this.controller_ = null), super.disposeInternal();
  }
}
let ko;
const Ci = [];
function jc(i, e, t, n, s) {
  i.beginPath(), i.moveTo(0, 0), i.lineTo(e, t), i.lineTo(n, s), i.closePath(), i.save(), i.clip(), i.fillRect(0, 0, Math.max(e, n) + 1, Math.max(t, s)), i.restore();
}
function Go(i, e) {
  return Math.abs(i[e * 4] - 210) > 2 || Math.abs(i[e * 4 + 3] - 0.75 * 255) > 2;
}
function O0() {
  if (ko === void 0) {
    const i = Pe(6, 6, Ci);
    i.globalCompositeOperation = "lighter", i.fillStyle = "rgba(210, 0, 0, 0.75)", jc(i, 4, 5, 4, 0), jc(i, 4, 5, 0, 5);
    const e = i.getImageData(0, 0, 3, 3).data;
    ko = Go(e, 0) || Go(e, 4) || Go(e, 8), Wr(i), Ci.push(i.canvas);
  }
  return ko;
}
function Yc(i, e, t, n) {
  const s = Gr(t, e, i);
  let r = Qo(
    e,
    n,
    t
  );
  const o = e.getMetersPerUnit();
  o !== void 0 && (r *= o);
  const a = i.getMetersPerUnit();
  a !== void 0 && (r /= a);
  const l = i.getExtent();
  if (!l || Si(l, s)) {
    const c = Qo(i, r, s) / r;
    isFinite(c) && c > 0 && (r /= c);
  }
  return r;
}
function N0(i, e, t, n) {
  const s = zt(t);
  let r = Yc(
    i,
    e,
    s,
    n
  );
  return (!isFinite(r) || r <= 0) && ch(t, function(o) {
    return r = Yc(
      i,
      e,
      o,
      n
    ), isFinite(r) && r > 0;
  }), r;
}
function k0(i, e, t, n, s, r, o, a, l, c, h, u, d, f) {
  const g = Pe(
    Math.round(t * i),
    Math.round(t * e),
    Ci
  );
  if (u || (g.imageSmoothingEnabled = !1), l.length === 0)
    return g.canvas;
  g.scale(t, t);
  function m(y) {
    return Math.round(y * t) / t;
  }
  g.globalCompositeOperation = "lighter";
  const _ = ut();
  l.forEach(function(y, T, S) {
    ah(_, y.extent);
  });
  let p;
  const x = t / n, v = (u ? 1 : 1 + Math.pow(2, -24)) / x;
  p = Pe(
    Math.round(ae(_) * x),
    Math.round(He(_) * x),
    Ci
  ), u || (p.imageSmoothingEnabled = !1), l.forEach(function(y, T, S) {
    if (y.image.width > 0 && y.image.height > 0) {
      if (y.clipExtent) {
        p.save();
        const k = (y.clipExtent[0] - _[0]) * x, F = -(y.clipExtent[3] - _[3]) * x, R = ae(y.clipExtent) * x, A = He(y.clipExtent) * x;
        p.rect(
          u ? k : Math.round(k),
          u ? F : Math.round(F),
          u ? R : Math.round(k + R) - Math.round(k),
          u ? A : Math.round(F + A) - Math.round(F)
        ), p.clip();
      }
      const w = (y.extent[0] - _[0]) * x, P = -(y.extent[3] - _[3]) * x, M = ae(y.extent) * x, U = He(y.extent) * x;
      p.drawImage(
        y.image,
        c,
        c,
        y.image.width - 2 * c,
        y.image.height - 2 * c,
        u ? w : Math.round(w),
        u ? P : Math.round(P),
        u ? M : Math.round(w + M) - Math.round(w),
        u ? U : Math.round(P + U) - Math.round(P)
      ), y.clipExtent && p.restore();
    }
  });
  const E = Xn(o);
  return a.getTriangles().forEach(function(y, T, S) {
    const w = y.source, P = y.target;
    let M = w[0][0], U = w[0][1], k = w[1][0], F = w[1][1], R = w[2][0], A = w[2][1];
    const b = m((P[0][0] - E[0]) / r), D = m(
      -(P[0][1] - E[1]) / r
    ), O = m((P[1][0] - E[0]) / r), j = m(
      -(P[1][1] - E[1]) / r
    ), K = m((P[2][0] - E[0]) / r), ee = m(
      -(P[2][1] - E[1]) / r
    ), I = M, ye = U;
    M = 0, U = 0, k -= I, F -= ye, R -= I, A -= ye;
    const Ce = [
      [k, F, 0, 0, O - b],
      [R, A, 0, 0, K - b],
      [0, 0, k, F, j - D],
      [0, 0, R, A, ee - D]
    ], fe = Ed(Ce);
    if (!fe)
      return;
    if (g.save(), g.beginPath(), O0() || !u) {
      g.moveTo(O, j);
      const Ae = 4, L = b - O, G = D - j;
      for (let J = 0; J < Ae; J++)
        g.lineTo(
          O + m((J + 1) * L / Ae),
          j + m(J * G / (Ae - 1))
        ), J != Ae - 1 && g.lineTo(
          O + m((J + 1) * L / Ae),
          j + m((J + 1) * G / (Ae - 1))
        );
      g.lineTo(K, ee);
    } else
      g.moveTo(O, j), g.lineTo(b, D), g.lineTo(K, ee);
    g.clip(), g.transform(
      fe[0],
      fe[2],
      fe[1],
      fe[3],
      b,
      D
    ), g.translate(
      _[0] - I,
      _[3] - ye
    );
    let Ie;
    if (p)
      Ie = p.canvas, g.scale(v, -v);
    else {
      const Ae = l[0], L = Ae.extent;
      Ie = Ae.image, g.scale(
        ae(L) / Ie.width,
        -He(L) / Ie.height
      );
    }
    g.drawImage(Ie, 0, 0), g.restore();
  }), p && (Wr(p), Ci.push(p.canvas)), h && (g.save(), g.globalCompositeOperation = "source-over", g.strokeStyle = "black", g.lineWidth = 1, a.getTriangles().forEach(function(y, T, S) {
    const w = y.target, P = (w[0][0] - E[0]) / r, M = -(w[0][1] - E[1]) / r, U = (w[1][0] - E[0]) / r, k = -(w[1][1] - E[1]) / r, F = (w[2][0] - E[0]) / r, R = -(w[2][1] - E[1]) / r;
    g.beginPath(), g.moveTo(U, k), g.lineTo(P, M), g.lineTo(F, R), g.closePath(), g.stroke();
  }), g.restore()), g.canvas;
}
const G0 = 10, Zc = 0.25;
class B0 {
  /**
   * @param {import("../proj/Projection.js").default} sourceProj Source projection.
   * @param {import("../proj/Projection.js").default} targetProj Target projection.
   * @param {import("../extent.js").Extent} targetExtent Target extent to triangulate.
   * @param {import("../extent.js").Extent} maxSourceExtent Maximal source extent that can be used.
   * @param {number} errorThreshold Acceptable error (in source units).
   * @param {?number} destinationResolution The (optional) resolution of the destination.
   * @param {import("../transform.js").Transform} [sourceMatrix] Source transform matrix.
   */
  constructor(e, t, n, s, r, o, a) {
    this.sourceProj_ = e, this.targetProj_ = t;
    let l = {};
    const c = a ? Jd(
      (v) => xe(
        a,
        Gr(v, this.targetProj_, this.sourceProj_)
      )
    ) : hs(this.targetProj_, this.sourceProj_);
    this.transformInv_ = function(v) {
      const E = v[0] + "/" + v[1];
      return l[E] || (l[E] = c(v)), l[E];
    }, this.maxSourceExtent_ = s, this.errorThresholdSquared_ = r * r, this.triangles_ = [], this.wrapsXInSource_ = !1, this.canWrapXInSource_ = this.sourceProj_.canWrapX() && !!s && !!this.sourceProj_.getExtent() && ae(s) >= ae(this.sourceProj_.getExtent()), this.sourceWorldWidth_ = this.sourceProj_.getExtent() ? ae(this.sourceProj_.getExtent()) : null, this.targetWorldWidth_ = this.targetProj_.getExtent() ? ae(this.targetProj_.getExtent()) : null;
    const h = Xn(n), u = Or(n), d = Dr(n), f = Mr(n), g = this.transformInv_(h), m = this.transformInv_(u), _ = this.transformInv_(d), p = this.transformInv_(f), x = G0 + (o ? Math.max(
      0,
      Math.ceil(
        Math.log2(
          jo(n) / (o * o * 256 * 256)
        )
      )
    ) : 0);
    if (this.addQuad_(
      h,
      u,
      d,
      f,
      g,
      m,
      _,
      p,
      x
    ), this.wrapsXInSource_) {
      let v = 1 / 0;
      this.triangles_.forEach(function(E, y, T) {
        v = Math.min(
          v,
          E.source[0][0],
          E.source[1][0],
          E.source[2][0]
        );
      }), this.triangles_.forEach((E) => {
        if (Math.max(
          E.source[0][0],
          E.source[1][0],
          E.source[2][0]
        ) - v > this.sourceWorldWidth_ / 2) {
          const y = [
            [E.source[0][0], E.source[0][1]],
            [E.source[1][0], E.source[1][1]],
            [E.source[2][0], E.source[2][1]]
          ];
          y[0][0] - v > this.sourceWorldWidth_ / 2 && (y[0][0] -= this.sourceWorldWidth_), y[1][0] - v > this.sourceWorldWidth_ / 2 && (y[1][0] -= this.sourceWorldWidth_), y[2][0] - v > this.sourceWorldWidth_ / 2 && (y[2][0] -= this.sourceWorldWidth_);
          const T = Math.min(
            y[0][0],
            y[1][0],
            y[2][0]
          );
          Math.max(
            y[0][0],
            y[1][0],
            y[2][0]
          ) - T < this.sourceWorldWidth_ / 2 && (E.source = y);
        }
      });
    }
    l = {};
  }
  /**
   * Adds triangle to the triangulation.
   * @param {import("../coordinate.js").Coordinate} a The target a coordinate.
   * @param {import("../coordinate.js").Coordinate} b The target b coordinate.
   * @param {import("../coordinate.js").Coordinate} c The target c coordinate.
   * @param {import("../coordinate.js").Coordinate} aSrc The source a coordinate.
   * @param {import("../coordinate.js").Coordinate} bSrc The source b coordinate.
   * @param {import("../coordinate.js").Coordinate} cSrc The source c coordinate.
   * @private
   */
  addTriangle_(e, t, n, s, r, o) {
    this.triangles_.push({
      source: [s, r, o],
      target: [e, t, n]
    });
  }
  /**
   * Adds quad (points in clock-wise order) to the triangulation
   * (and reprojects the vertices) if valid.
   * Performs quad subdivision if needed to increase precision.
   *
   * @param {import("../coordinate.js").Coordinate} a The target a coordinate.
   * @param {import("../coordinate.js").Coordinate} b The target b coordinate.
   * @param {import("../coordinate.js").Coordinate} c The target c coordinate.
   * @param {import("../coordinate.js").Coordinate} d The target d coordinate.
   * @param {import("../coordinate.js").Coordinate} aSrc The source a coordinate.
   * @param {import("../coordinate.js").Coordinate} bSrc The source b coordinate.
   * @param {import("../coordinate.js").Coordinate} cSrc The source c coordinate.
   * @param {import("../coordinate.js").Coordinate} dSrc The source d coordinate.
   * @param {number} maxSubdivision Maximal allowed subdivision of the quad.
   * @private
   */
  addQuad_(e, t, n, s, r, o, a, l, c) {
    const h = Qe([r, o, a, l]), u = this.sourceWorldWidth_ ? ae(h) / this.sourceWorldWidth_ : null, d = (
      /** @type {number} */
      this.sourceWorldWidth_
    ), f = this.sourceProj_.canWrapX() && u > 0.5 && u < 1;
    let g = !1;
    if (c > 0) {
      if (this.targetProj_.isGlobal() && this.targetWorldWidth_) {
        const _ = Qe([e, t, n, s]);
        g = ae(_) / this.targetWorldWidth_ > Zc || g;
      }
      !f && this.sourceProj_.isGlobal() && u && (g = u > Zc || g);
    }
    if (!g && this.maxSourceExtent_ && isFinite(h[0]) && isFinite(h[1]) && isFinite(h[2]) && isFinite(h[3]) && !Ke(h, this.maxSourceExtent_))
      return;
    let m = 0;
    if (!g && (!isFinite(r[0]) || !isFinite(r[1]) || !isFinite(o[0]) || !isFinite(o[1]) || !isFinite(a[0]) || !isFinite(a[1]) || !isFinite(l[0]) || !isFinite(l[1]))) {
      if (c > 0)
        g = !0;
      else if (m = (!isFinite(r[0]) || !isFinite(r[1]) ? 8 : 0) + (!isFinite(o[0]) || !isFinite(o[1]) ? 4 : 0) + (!isFinite(a[0]) || !isFinite(a[1]) ? 2 : 0) + (!isFinite(l[0]) || !isFinite(l[1]) ? 1 : 0), m != 1 && m != 2 && m != 4 && m != 8)
        return;
    }
    if (c > 0) {
      if (!g) {
        const _ = [(e[0] + n[0]) / 2, (e[1] + n[1]) / 2], p = this.transformInv_(_);
        let x;
        f ? x = (kn(r[0], d) + kn(a[0], d)) / 2 - kn(p[0], d) : x = (r[0] + a[0]) / 2 - p[0];
        const v = (r[1] + a[1]) / 2 - p[1];
        g = x * x + v * v > this.errorThresholdSquared_;
      }
      if (g) {
        if (Math.abs(e[0] - n[0]) <= Math.abs(e[1] - n[1])) {
          const _ = [(t[0] + n[0]) / 2, (t[1] + n[1]) / 2], p = this.transformInv_(_), x = [(s[0] + e[0]) / 2, (s[1] + e[1]) / 2], v = this.transformInv_(x);
          this.addQuad_(
            e,
            t,
            _,
            x,
            r,
            o,
            p,
            v,
            c - 1
          ), this.addQuad_(
            x,
            _,
            n,
            s,
            v,
            p,
            a,
            l,
            c - 1
          );
        } else {
          const _ = [(e[0] + t[0]) / 2, (e[1] + t[1]) / 2], p = this.transformInv_(_), x = [(n[0] + s[0]) / 2, (n[1] + s[1]) / 2], v = this.transformInv_(x);
          this.addQuad_(
            e,
            _,
            x,
            s,
            r,
            p,
            v,
            l,
            c - 1
          ), this.addQuad_(
            _,
            t,
            n,
            x,
            p,
            o,
            a,
            v,
            c - 1
          );
        }
        return;
      }
    }
    if (f) {
      if (!this.canWrapXInSource_)
        return;
      this.wrapsXInSource_ = !0;
    }
    (m & 11) == 0 && this.addTriangle_(e, n, s, r, a, l), (m & 14) == 0 && this.addTriangle_(e, n, t, r, a, o), m && ((m & 13) == 0 && this.addTriangle_(t, s, e, o, l, r), (m & 7) == 0 && this.addTriangle_(t, s, n, o, l, a));
  }
  /**
   * Calculates extent of the `source` coordinates from all the triangles.
   *
   * @return {import("../extent.js").Extent} Calculated extent.
   */
  calculateSourceExtent() {
    const e = ut();
    return this.triangles_.forEach(function(t, n, s) {
      const r = t.source;
      es(e, r[0]), es(e, r[1]), es(e, r[2]);
    }), e;
  }
  /**
   * @return {Array<Triangle>} Array of the calculated triangles.
   */
  getTriangles() {
    return this.triangles_;
  }
}
const U0 = 0.5;
class Gu extends sl {
  /**
   * @param {import("../proj/Projection.js").default} sourceProj Source projection.
   * @param {import("../tilegrid/TileGrid.js").default} sourceTileGrid Source tile grid.
   * @param {import("../proj/Projection.js").default} targetProj Target projection.
   * @param {import("../tilegrid/TileGrid.js").default} targetTileGrid Target tile grid.
   * @param {import("../tilecoord.js").TileCoord} tileCoord Coordinate of the tile.
   * @param {import("../tilecoord.js").TileCoord} wrappedTileCoord Coordinate of the tile wrapped in X.
   * @param {number} pixelRatio Pixel ratio.
   * @param {number} gutter Gutter of the source tiles.
   * @param {FunctionType} getTileFunction
   *     Function returning source tiles (z, x, y, pixelRatio).
   * @param {number} [errorThreshold] Acceptable reprojection error (in px).
   * @param {boolean} [renderEdges] Render reprojection edges.
   * @param {import("../Tile.js").Options} [options] Tile options.
   */
  constructor(e, t, n, s, r, o, a, l, c, h, u, d) {
    super(r, W.IDLE, d), this.renderEdges_ = u !== void 0 ? u : !1, this.pixelRatio_ = a, this.gutter_ = l, this.canvas_ = null, this.sourceTileGrid_ = t, this.targetTileGrid_ = s, this.wrappedTileCoord_ = o || r, this.sourceTiles_ = [], this.sourcesListenerKeys_ = null, this.sourceZ_ = 0, this.clipExtent_ = e.canWrapX() ? e.getExtent() : void 0;
    const f = s.getTileCoordExtent(
      this.wrappedTileCoord_
    ), g = this.targetTileGrid_.getExtent();
    let m = this.sourceTileGrid_.getExtent();
    const _ = g ? Nn(f, g) : f;
    if (jo(_) === 0) {
      this.state = W.EMPTY;
      return;
    }
    const p = e.getExtent();
    p && (m ? m = Nn(m, p) : m = p);
    const x = s.getResolution(
      this.wrappedTileCoord_[0]
    ), v = N0(
      e,
      n,
      _,
      x
    );
    if (!isFinite(v) || v <= 0) {
      this.state = W.EMPTY;
      return;
    }
    const E = h !== void 0 ? h : U0;
    if (this.triangulation_ = new B0(
      e,
      n,
      _,
      m,
      v * E,
      x
    ), this.triangulation_.getTriangles().length === 0) {
      this.state = W.EMPTY;
      return;
    }
    this.sourceZ_ = t.getZForResolution(v);
    let y = this.triangulation_.calculateSourceExtent();
    if (m && (e.canWrapX() ? (y[1] = de(
      y[1],
      m[1],
      m[3]
    ), y[3] = de(
      y[3],
      m[1],
      m[3]
    )) : y = Nn(y, m)), !jo(y))
      this.state = W.EMPTY;
    else {
      let T = 0, S = 0;
      e.canWrapX() && (T = ae(p), S = Math.floor(
        (y[0] - p[0]) / T
      )), dh(
        y.slice(),
        e,
        !0
      ).forEach((P) => {
        const M = t.getTileRangeForExtentAndZ(
          P,
          this.sourceZ_
        );
        for (let U = M.minX; U <= M.maxX; U++)
          for (let k = M.minY; k <= M.maxY; k++) {
            const F = c(this.sourceZ_, U, k, a);
            if (F) {
              const R = S * T;
              this.sourceTiles_.push({ tile: F, offset: R });
            }
          }
        ++S;
      }), this.sourceTiles_.length === 0 && (this.state = W.EMPTY);
    }
  }
  /**
   * Get the HTML Canvas element for this tile.
   * @return {HTMLCanvasElement|OffscreenCanvas} Canvas.
   */
  getImage() {
    return this.canvas_;
  }
  /**
   * @private
   */
  reproject_() {
    const e = [];
    if (this.sourceTiles_.forEach((t) => {
      const n = t.tile;
      if (n && n.getState() == W.LOADED) {
        const s = this.sourceTileGrid_.getTileCoordExtent(n.tileCoord);
        s[0] += t.offset, s[2] += t.offset;
        const r = this.clipExtent_?.slice();
        r && (r[0] += t.offset, r[2] += t.offset), e.push({
          extent: s,
          clipExtent: r,
          image: n.getImage()
        });
      }
    }), this.sourceTiles_.length = 0, e.length === 0)
      this.state = W.ERROR;
    else {
      const t = this.wrappedTileCoord_[0], n = this.targetTileGrid_.getTileSize(t), s = typeof n == "number" ? n : n[0], r = typeof n == "number" ? n : n[1], o = this.targetTileGrid_.getResolution(t), a = this.sourceTileGrid_.getResolution(
        this.sourceZ_
      ), l = this.targetTileGrid_.getTileCoordExtent(
        this.wrappedTileCoord_
      );
      this.canvas_ = k0(
        s,
        r,
        this.pixelRatio_,
        a,
        this.sourceTileGrid_.getExtent(),
        o,
        l,
        this.triangulation_,
        e,
        this.gutter_,
        this.renderEdges_,
        this.interpolate
      ), this.state = W.LOADED;
    }
    this.changed();
  }
  /**
   * Load not yet loaded URI.
   * @override
   */
  load() {
    if (this.state == W.IDLE) {
      this.state = W.LOADING, this.changed();
      let e = 0;
      this.sourcesListenerKeys_ = [], this.sourceTiles_.forEach(({ tile: t }) => {
        const n = t.getState();
        if (n == W.IDLE || n == W.LOADING) {
          e++;
          const s = ne(t, Y.CHANGE, (r) => {
            const o = t.getState();
            (o == W.LOADED || o == W.ERROR || o == W.EMPTY) && (ce(s), e--, e === 0 && (this.unlistenSources_(), this.reproject_()));
          });
          this.sourcesListenerKeys_.push(s);
        }
      }), e === 0 ? setTimeout(this.reproject_.bind(this), 0) : this.sourceTiles_.forEach(function({ tile: t }, n, s) {
        t.getState() == W.IDLE && t.load();
      });
    }
  }
  /**
   * @private
   */
  unlistenSources_() {
    this.sourcesListenerKeys_.forEach(ce), this.sourcesListenerKeys_ = null;
  }
  /**
   * Remove from the cache due to expiry
   * @override
   */
  release() {
    this.canvas_ && (Wr(
      /** @type {CanvasRenderingContext2D|OffscreenCanvasRenderingContext2D} */
      this.canvas_.getContext("2d")
    ), Ci.push(this.canvas_), this.canvas_ = null), super.release();
  }
}
class Kc {
  /**
   * @param {number} [highWaterMark] High water mark.
   */
  constructor(e) {
    this.highWaterMark = e !== void 0 ? e : 2048, this.count_ = 0, this.entries_ = {}, this.oldest_ = null, this.newest_ = null;
  }
  deleteOldest() {
    const e = this.pop();
    e instanceof bs && e.dispose();
  }
  /**
   * @return {boolean} Can expire cache.
   */
  canExpireCache() {
    return this.highWaterMark > 0 && this.getCount() > this.highWaterMark;
  }
  /**
   * Expire the cache. When the cache entry is a {@link module:ol/Disposable~Disposable},
   * the entry will be disposed.
   * @param {!Object<string, boolean>} [keep] Keys to keep. To be implemented by subclasses.
   */
  expireCache(e) {
    for (; this.canExpireCache(); )
      this.deleteOldest();
  }
  /**
   * FIXME empty description for jsdoc
   */
  clear() {
    for (; this.oldest_; )
      this.deleteOldest();
  }
  /**
   * @param {string} key Key.
   * @return {boolean} Contains key.
   */
  containsKey(e) {
    return this.entries_.hasOwnProperty(e);
  }
  /**
   * @param {function(T, string, LRUCache<T>): ?} f The function
   *     to call for every entry from the oldest to the newer. This function takes
   *     3 arguments (the entry value, the entry key and the LRUCache object).
   *     The return value is ignored.
   */
  forEach(e) {
    let t = this.oldest_;
    for (; t; )
      e(t.value_, t.key_, this), t = t.newer;
  }
  /**
   * @param {string} key Key.
   * @param {*} [options] Options (reserved for subclasses).
   * @return {T} Value.
   */
  get(e, t) {
    const n = this.entries_[e];
    return ie(
      n !== void 0,
      "Tried to get a value for a key that does not exist in the cache"
    ), n === this.newest_ || (n === this.oldest_ ? (this.oldest_ = /** @type {Entry} */
    this.oldest_.newer, this.oldest_.older = null) : (n.newer.older = n.older, n.older.newer = n.newer), n.newer = null, n.older = this.newest_, this.newest_.newer = n, this.newest_ = n), n.value_;
  }
  /**
   * Remove an entry from the cache.
   * @param {string} key The entry key.
   * @return {T} The removed entry.
   */
  remove(e) {
    const t = this.entries_[e];
    return ie(
      t !== void 0,
      "Tried to get a value for a key that does not exist in the cache"
    ), t === this.newest_ ? (this.newest_ = /** @type {Entry} */
    t.older, this.newest_ && (this.newest_.newer = null)) : t === this.oldest_ ? (this.oldest_ = /** @type {Entry} */
    t.newer, this.oldest_ && (this.oldest_.older = null)) : (t.newer.older = t.older, t.older.newer = t.newer), delete this.entries_[e], --this.count_, t.value_;
  }
  /**
   * @return {number} Count.
   */
  getCount() {
    return this.count_;
  }
  /**
   * @return {Array<string>} Keys.
   */
  getKeys() {
    const e = new Array(this.count_);
    let t = 0, n;
    for (n = this.newest_; n; n = n.older)
      e[t++] = n.key_;
    return e;
  }
  /**
   * @return {Array<T>} Values.
   */
  getValues() {
    const e = new Array(this.count_);
    let t = 0, n;
    for (n = this.newest_; n; n = n.older)
      e[t++] = n.value_;
    return e;
  }
  /**
   * @return {T} Last value.
   */
  peekLast() {
    return this.oldest_.value_;
  }
  /**
   * @return {string} Last key.
   */
  peekLastKey() {
    return this.oldest_.key_;
  }
  /**
   * Get the key of the newest item in the cache.  Throws if the cache is empty.
   * @return {string} The newest key.
   */
  peekFirstKey() {
    return this.newest_.key_;
  }
  /**
   * Return an entry without updating least recently used time.
   * @param {string} key Key.
   * @return {T|undefined} Value.
   */
  peek(e) {
    return this.entries_[e]?.value_;
  }
  /**
   * @return {T} value Value.
   */
  pop() {
    const e = this.oldest_;
    return delete this.entries_[e.key_], e.newer && (e.newer.older = null), this.oldest_ = /** @type {Entry} */
    e.newer, this.oldest_ || (this.newest_ = null), --this.count_, e.value_;
  }
  /**
   * @param {string} key Key.
   * @param {T} value Value.
   */
  replace(e, t) {
    this.get(e), this.entries_[e].value_ = t;
  }
  /**
   * @param {string} key Key.
   * @param {T} value Value.
   */
  set(e, t) {
    ie(
      !(e in this.entries_),
      "Tried to set a value for a key that is used already"
    );
    const n = {
      key_: e,
      newer: null,
      older: this.newest_,
      value_: t
    };
    this.newest_ ? this.newest_.newer = n : this.oldest_ = n, this.newest_ = n, this.entries_[e] = n, ++this.count_;
  }
  /**
   * Set a maximum number of entries for the cache.
   * @param {number} size Cache size.
   * @api
   */
  setSize(e) {
    this.highWaterMark = e;
  }
}
function br(i, e, t, n) {
  return n !== void 0 ? (n[0] = i, n[1] = e, n[2] = t, n) : [i, e, t];
}
function z0(i, e, t) {
  return i + "/" + e + "/" + t;
}
function dr(i, e, t, n, s) {
  return `${z(i)},${e},${z0(t, n, s)}`;
}
function $0(i) {
  return W0(i[0], i[1], i[2]);
}
function W0(i, e, t) {
  return (e << i) + t;
}
function V0(i, e) {
  const t = i[0], n = i[1], s = i[2];
  if (e.getMinZoom() > t || t > e.getMaxZoom())
    return !1;
  const r = e.getFullTileRange(t);
  return r ? r.containsXY(n, s) : !0;
}
class yl extends nu {
  /**
   * @param {LayerType} layer Layer.
   * @param {Options} [options] Options.
   */
  constructor(e, t) {
    super(e), t = t || {}, this.inversePixelTransform_ = we(), this.postProcesses_ = t.postProcesses, this.uniforms_ = t.uniforms, this.helper, this.onMapChanged_ = () => {
      this.clearCache(), this.removeHelper();
    }, e.addChangeListener(oe.MAP, this.onMapChanged_), this.dispatchPreComposeEvent = this.dispatchPreComposeEvent.bind(this), this.dispatchPostComposeEvent = this.dispatchPostComposeEvent.bind(this);
  }
  /**
   * @param {WebGLRenderingContext} context The WebGL rendering context.
   * @param {import("../../Map.js").FrameState} frameState Frame state.
   * @protected
   */
  dispatchPreComposeEvent(e, t) {
    const n = this.getLayer();
    if (n.hasListener(Oe.PRECOMPOSE)) {
      const s = new is(
        Oe.PRECOMPOSE,
        void 0,
        t,
        e
      );
      n.dispatchEvent(s);
    }
  }
  /**
   * @param {WebGLRenderingContext} context The WebGL rendering context.
   * @param {import("../../Map.js").FrameState} frameState Frame state.
   * @protected
   */
  dispatchPostComposeEvent(e, t) {
    const n = this.getLayer();
    if (n.hasListener(Oe.POSTCOMPOSE)) {
      const s = new is(
        Oe.POSTCOMPOSE,
        void 0,
        t,
        e
      );
      n.dispatchEvent(s);
    }
  }
  /**
   * Reset options (only handles uniforms).
   * @param {Options} options Options.
   */
  reset(e) {
    this.uniforms_ = e.uniforms, this.helper && this.helper.setUniforms(this.uniforms_);
  }
  /**
   * @protected
   */
  removeHelper() {
    this.helper && (this.helper.dispose(), delete this.helper);
  }
  /**
   * Determine whether renderFrame should be called.
   * @param {import("../../Map.js").FrameState} frameState Frame state.
   * @return {boolean} Layer is ready to be rendered.
   * @override
   */
  prepareFrame(e) {
    if (this.getLayer().getRenderSource()) {
      let t = !0, n = -1, s;
      for (let o = 0, a = e.layerStatesArray.length; o < a; o++) {
        const l = e.layerStatesArray[o].layer, c = l.getRenderer();
        if (!(c instanceof yl)) {
          t = !0;
          continue;
        }
        const h = l.getClassName();
        if ((t || h !== s) && (n += 1, t = !1), s = h, c === this)
          break;
      }
      const r = "map/" + e.mapId + "/group/" + n;
      (!this.helper || !this.helper.canvasCacheKeyMatches(r) || this.helper.needsToBeRecreated()) && (this.removeHelper(), this.helper = new I0({
        postProcesses: this.postProcesses_,
        uniforms: this.uniforms_,
        canvasCacheKey: r
      }), s && (this.helper.getCanvas().className = s), this.afterHelperCreated());
    }
    return this.prepareFrameInternal(e);
  }
  /**
   * @protected
   */
  afterHelperCreated() {
  }
  /**
   * Determine whether renderFrame should be called.
   * @param {import("../../Map.js").FrameState} frameState Frame state.
   * @return {boolean} Layer is ready to be rendered.
   * @protected
   */
  prepareFrameInternal(e) {
    return !0;
  }
  /**
   * @protected
   */
  clearCache() {
  }
  /**
   * Clean up.
   * @override
   */
  disposeInternal() {
    this.clearCache(), this.removeHelper(), this.getLayer()?.removeChangeListener(
      oe.MAP,
      this.onMapChanged_
    ), super.disposeInternal();
  }
  /**
   * @param {import("../../render/EventType.js").default} type Event type.
   * @param {WebGLRenderingContext} context The rendering context.
   * @param {import("../../Map.js").FrameState} frameState Frame state.
   * @private
   */
  dispatchRenderEvent_(e, t, n) {
    const s = this.getLayer();
    if (s.hasListener(e)) {
      wt(
        this.inversePixelTransform_,
        0,
        0,
        n.pixelRatio,
        -n.pixelRatio,
        0,
        0,
        -n.size[1]
      );
      const r = new is(
        e,
        this.inversePixelTransform_,
        n,
        t
      );
      s.dispatchEvent(r);
    }
  }
  /**
   * @param {WebGLRenderingContext} context The rendering context.
   * @param {import("../../Map.js").FrameState} frameState Frame state.
   * @protected
   */
  preRender(e, t) {
    this.dispatchRenderEvent_(Oe.PRERENDER, e, t);
  }
  /**
   * @param {WebGLRenderingContext} context The rendering context.
   * @param {import("../../Map.js").FrameState} frameState Frame state.
   * @protected
   */
  postRender(e, t) {
    this.dispatchRenderEvent_(Oe.POSTRENDER, e, t);
  }
}
const Bo = {
  TILE_TEXTURE_ARRAY: "u_tileTextures",
  TEXTURE_PIXEL_WIDTH: "u_texturePixelWidth",
  TEXTURE_PIXEL_HEIGHT: "u_texturePixelHeight"
};
class X0 {
  /**
   * @param {string} name The name of the texture.
   * @param {Uint8Array} data The texture data.
   */
  constructor(e, t) {
    this.name = e, this.data = t, this.texture_ = null;
  }
  /**
   * @param {WebGLRenderingContext} gl Rendering context.
   * @return {WebGLTexture} The texture.
   */
  getTexture(e) {
    if (!this.texture_) {
      const t = e.createTexture();
      e.bindTexture(e.TEXTURE_2D, t), e.texParameteri(e.TEXTURE_2D, e.TEXTURE_WRAP_S, e.CLAMP_TO_EDGE), e.texParameteri(e.TEXTURE_2D, e.TEXTURE_WRAP_T, e.CLAMP_TO_EDGE), e.texParameteri(e.TEXTURE_2D, e.TEXTURE_MIN_FILTER, e.NEAREST), e.texParameteri(e.TEXTURE_2D, e.TEXTURE_MAG_FILTER, e.NEAREST), e.texImage2D(
        e.TEXTURE_2D,
        0,
        e.RGBA,
        this.data.length / 4,
        1,
        0,
        e.RGBA,
        e.UNSIGNED_BYTE,
        this.data
      ), this.texture_ = t;
    }
    return this.texture_;
  }
  /**
   * @param {WebGLRenderingContext} gl Rendering context.
   */
  delete(e) {
    this.texture_ && e.deleteTexture(this.texture_), this.texture_ = null;
  }
}
function j0(i, e) {
  return `operator_${i}_${Object.keys(e.functions).length}`;
}
function vn(i) {
  const e = i.toString();
  return e.includes(".") ? e : e + ".0";
}
function xl(i) {
  if (i.length < 2 || i.length > 4)
    throw new Error(
      "`formatArray` can only output `vec2`, `vec3` or `vec4` arrays."
    );
  return `vec${i.length}(${i.map(vn).join(", ")})`;
}
function fr(i) {
  const e = Pt(i), t = e.length > 3 ? e[3] : 1;
  return xl([e[0] / 255, e[1] / 255, e[2] / 255, t]);
}
function Y0(i) {
  const e = qe(i);
  return xl(e);
}
const Uo = {};
let Z0 = 0;
function ws(i) {
  return i in Uo || (Uo[i] = Z0++), Uo[i];
}
function qt(i) {
  return vn(ws(i));
}
function El(i) {
  return "u_var_" + i;
}
function K0() {
  return {
    variables: {},
    properties: {},
    functions: {},
    bandCount: 0,
    featureId: !1,
    geometryType: !1
  };
}
const zo = "getBandValue", H0 = "u_paletteTextures", Bu = "featureId", Uu = "geometryType", ma = -9999999;
function q0(i, e, t, n) {
  const s = ke(i, e, t);
  return vl(s, e, n);
}
function se(i) {
  return (e, t, n) => {
    const s = t.args.length, r = new Array(s);
    for (let o = 0; o < s; ++o)
      r[o] = vl(t.args[o], n, e);
    return i(r, e);
  };
}
const J0 = {
  [C.Get]: (i, e) => {
    const n = (
      /** @type {string} */
      /** @type {LiteralExpression} */
      e.args[0].value
    );
    n in i.properties || (i.properties[n] = {
      name: n,
      type: e.type
    });
    let r = "a_prop_" + n;
    return Dt(e.type, Se) && (r = `(${r} > 0.0)`), r;
  },
  [C.Id]: (i) => (i.featureId = !0, "a_" + Bu),
  [C.GeometryType]: (i) => (i.geometryType = !0, "a_" + Uu),
  [C.LineMetric]: () => "currentLineMetric",
  // this variable is assumed to always be present in shaders, default is 0.
  [C.Var]: (i, e) => {
    const n = (
      /** @type {string} */
      /** @type {LiteralExpression} */
      e.args[0].value
    );
    n in i.variables || (i.variables[n] = {
      name: n,
      type: e.type
    });
    let r = El(n);
    return Dt(e.type, Se) && (r = `(${r} > 0.0)`), r;
  },
  [C.Has]: (i, e) => {
    const n = (
      /** @type {string} */
      /** @type {LiteralExpression} */
      e.args[0].value
    );
    return n in i.properties || (i.properties[n] = {
      name: n,
      type: e.type
    }), `(a_prop_${n} != ${vn(ma)})`;
  },
  [C.Resolution]: () => "u_resolution",
  [C.Zoom]: () => "u_zoom",
  [C.Time]: () => "u_time",
  [C.Any]: se((i) => `(${i.join(" || ")})`),
  [C.All]: se((i) => `(${i.join(" && ")})`),
  [C.Not]: se(([i]) => `(!${i})`),
  [C.Equal]: se(
    ([i, e]) => `(${i} == ${e})`
  ),
  [C.NotEqual]: se(
    ([i, e]) => `(${i} != ${e})`
  ),
  [C.GreaterThan]: se(
    ([i, e]) => `(${i} > ${e})`
  ),
  [C.GreaterThanOrEqualTo]: se(
    ([i, e]) => `(${i} >= ${e})`
  ),
  [C.LessThan]: se(
    ([i, e]) => `(${i} < ${e})`
  ),
  [C.LessThanOrEqualTo]: se(
    ([i, e]) => `(${i} <= ${e})`
  ),
  [C.Multiply]: se(
    (i) => `(${i.join(" * ")})`
  ),
  [C.Divide]: se(
    ([i, e]) => `(${i} / ${e})`
  ),
  [C.Add]: se((i) => `(${i.join(" + ")})`),
  [C.Subtract]: se(
    ([i, e]) => `(${i} - ${e})`
  ),
  [C.Clamp]: se(
    ([i, e, t]) => `clamp(${i}, ${e}, ${t})`
  ),
  [C.Mod]: se(([i, e]) => `mod(${i}, ${e})`),
  [C.Pow]: se(([i, e]) => `pow(${i}, ${e})`),
  [C.Abs]: se(([i]) => `abs(${i})`),
  [C.Floor]: se(([i]) => `floor(${i})`),
  [C.Ceil]: se(([i]) => `ceil(${i})`),
  [C.Round]: se(([i]) => `floor(${i} + 0.5)`),
  [C.Sin]: se(([i]) => `sin(${i})`),
  [C.Cos]: se(([i]) => `cos(${i})`),
  [C.Atan]: se(([i, e]) => e !== void 0 ? `atan(${i}, ${e})` : `atan(${i})`),
  [C.Sqrt]: se(([i]) => `sqrt(${i})`),
  [C.Match]: se((i) => {
    const e = i[0], t = i[i.length - 1];
    let n = null;
    for (let s = i.length - 3; s >= 1; s -= 2) {
      const r = i[s], o = i[s + 1];
      n = `(${e} == ${r} ? ${o} : ${n || t})`;
    }
    return n;
  }),
  [C.Between]: se(
    ([i, e, t]) => `(${i} >= ${e} && ${i} <= ${t})`
  ),
  [C.Interpolate]: se(([i, e, ...t]) => {
    let n = "";
    for (let s = 0; s < t.length - 2; s += 2) {
      const r = t[s], o = n || t[s + 1], a = t[s + 2], l = t[s + 3];
      let c;
      i === vn(1) ? c = `(${e} - ${r}) / (${a} - ${r})` : c = `(pow(${i}, (${e} - ${r})) - 1.0) / (pow(${i}, (${a} - ${r})) - 1.0)`, n = `mix(${o}, ${l}, clamp(${c}, 0.0, 1.0))`;
    }
    return n;
  }),
  [C.Case]: se((i) => {
    const e = i[i.length - 1];
    let t = null;
    for (let n = i.length - 3; n >= 0; n -= 2) {
      const s = i[n], r = i[n + 1];
      t = `(${s} ? ${r} : ${t || e})`;
    }
    return t;
  }),
  [C.In]: se(([i, ...e], t) => {
    const n = j0("in", t), s = [];
    for (let r = 0; r < e.length; r += 1)
      s.push(`  if (inputValue == ${e[r]}) { return true; }`);
    return t.functions[n] = `bool ${n}(float inputValue) {
${s.join(`
`)}
  return false;
}`, `${n}(${i})`;
  }),
  [C.Array]: se(
    (i) => `vec${i.length}(${i.join(", ")})`
  ),
  [C.Color]: se((i) => {
    if (i.length === 1)
      return `vec4(vec3(${i[0]} / 255.0), 1.0)`;
    if (i.length === 2)
      return `vec4(vec3(${i[0]} / 255.0), ${i[1]})`;
    const e = i.slice(0, 3).map((n) => `${n} / 255.0`);
    if (i.length === 3)
      return `vec4(${e.join(", ")}, 1.0)`;
    const t = i[3];
    return `vec4(${e.join(", ")}, ${t})`;
  }),
  [C.Band]: se(([i, e, t], n) => {
    if (!(zo in n.functions)) {
      let s = "";
      const r = n.bandCount || 1;
      for (let o = 0; o < r; o++) {
        const a = Math.floor(o / 4);
        let l = o % 4;
        o === r - 1 && l === 1 && (l = 3);
        const c = `${Bo.TILE_TEXTURE_ARRAY}[${a}]`;
        s += `  if (band == ${o + 1}.0) {
    return texture2D(${c}, v_textureCoord + vec2(dx, dy))[${l}];
  }
`;
      }
      n.functions[zo] = `float getBandValue(float band, float xOffset, float yOffset) {
  float dx = xOffset / ${Bo.TEXTURE_PIXEL_WIDTH};
  float dy = yOffset / ${Bo.TEXTURE_PIXEL_HEIGHT};
${s}
}`;
    }
    return `${zo}(${i}, ${e ?? "0.0"}, ${t ?? "0.0"})`;
  }),
  [C.Palette]: (i, e) => {
    const [t, ...n] = e.args, s = n.length, r = new Uint8Array(s * 4);
    for (let c = 0; c < n.length; c++) {
      const h = (
        /** @type {string | Array<number>} */
        /** @type {LiteralExpression} */
        n[c].value
      ), u = Pt(h), d = c * 4;
      r[d] = u[0], r[d + 1] = u[1], r[d + 2] = u[2], r[d + 3] = u[3] * 255;
    }
    i.paletteTextures || (i.paletteTextures = []);
    const o = `${H0}[${i.paletteTextures.length}]`, a = new X0(o, r);
    i.paletteTextures.push(a);
    const l = vl(t, B, i);
    return `texture2D(${o}, vec2((${l} + 0.5) / ${s}.0, 0.5))`;
  }
  // TODO: unimplemented
  // Ops.Number
  // Ops.String
  // Ops.Coalesce
  // Ops.Concat
  // Ops.ToString
};
function vl(i, e, t) {
  if (i instanceof su) {
    const n = J0[i.operator];
    if (n === void 0)
      throw new Error(
        `No compiler defined for this operator: ${JSON.stringify(
          i.operator
        )}`
      );
    return n(t, i, e);
  }
  if ((i.type & B) > 0)
    return vn(
      /** @type {number} */
      i.value
    );
  if ((i.type & Se) > 0)
    return i.value.toString();
  if ((i.type & Re) > 0)
    return qt(i.value.toString());
  if ((i.type & ue) > 0)
    return fr(
      /** @type {Array<number> | string} */
      i.value
    );
  if ((i.type & ot) > 0)
    return xl(
      /** @type {Array<number>} */
      i.value
    );
  if ((i.type & xt) > 0)
    return Y0(
      /** @type {number|import('../size.js').Size} */
      i.value
    );
  throw new Error(
    `Unexpected expression ${i.value} (expected type ${pi(
      e
    )})`
  );
}
function Cl(i, e, t, n) {
  let s = 0;
  for (const r in e) {
    const o = e[r], a = o.callback.call(t, t.feature);
    let l = a?.[0] ?? a;
    l === ma && console.warn('The "has" operator might return false positives.'), l === void 0 ? l = ma : l === null && (l = 0), i[n + s++] = l, !(!o.size || o.size === 1) && (i[n + s++] = a[1], !(o.size < 3) && (i[n + s++] = a[2], !(o.size < 4) && (i[n + s++] = a[3])));
  }
  return s;
}
function Qr(i) {
  return Object.keys(i).reduce(
    (e, t) => e + (i[t].size || 1),
    0
  );
}
function Q0(i, e, t, n) {
  const s = (2 + Qr(t)) * i.geometriesCount;
  (!e || e.length !== s) && (e = new Float32Array(s));
  const r = [];
  let o = 0;
  for (const a in i.entries) {
    const l = i.entries[a];
    for (let c = 0, h = l.flatCoordss.length; c < h; c++)
      r[0] = l.flatCoordss[c][0], r[1] = l.flatCoordss[c][1], xe(n, r), e[o++] = r[0], e[o++] = r[1], o += Cl(
        e,
        t,
        l,
        o
      );
  }
  return e;
}
function ey(i, e, t, n) {
  const s = 3 * i.verticesCount + (1 + Qr(t)) * i.geometriesCount;
  (!e || e.length !== s) && (e = new Float32Array(s));
  const r = [];
  let o = 0;
  for (const a in i.entries) {
    const l = i.entries[a];
    for (let c = 0, h = l.flatCoordss.length; c < h; c++) {
      r.length = l.flatCoordss[c].length, Ut(
        l.flatCoordss[c],
        0,
        r.length,
        3,
        n,
        r,
        3
      ), o += Cl(
        e,
        t,
        l,
        o
      ), e[o++] = r.length / 3;
      for (let u = 0, d = r.length; u < d; u += 3)
        e[o++] = r[u], e[o++] = r[u + 1], e[o++] = r[u + 2];
    }
  }
  return e;
}
function ty(i, e, t, n) {
  const s = 2 * i.verticesCount + (1 + Qr(t)) * i.geometriesCount + i.ringsCount;
  (!e || e.length !== s) && (e = new Float32Array(s));
  const r = [];
  let o = 0;
  for (const a in i.entries) {
    const l = i.entries[a];
    for (let c = 0, h = l.flatCoordss.length; c < h; c++) {
      r.length = l.flatCoordss[c].length, Ut(
        l.flatCoordss[c],
        0,
        r.length,
        2,
        n,
        r
      ), o += Cl(
        e,
        t,
        l,
        o
      ), e[o++] = l.ringsVerticesCounts[c].length;
      for (let u = 0, d = l.ringsVerticesCounts[c].length; u < d; u++)
        e[o++] = l.ringsVerticesCounts[c][u];
      for (let u = 0, d = r.length; u < d; u += 2)
        e[o++] = r[u], e[o++] = r[u + 1];
    }
  }
  return e;
}
function ny() {
  return {
    "fill-color": "rgba(255,255,255,0.4)",
    "stroke-color": "#3399CC",
    "stroke-width": 1.25,
    "circle-radius": 5,
    "circle-fill-color": "rgba(255,255,255,0.4)",
    "circle-stroke-width": 1.25,
    "circle-stroke-color": "#3399CC"
  };
}
const Hc = 0.985;
function Z(i, e, t) {
  const n = Ka();
  return q0(
    e,
    t,
    n,
    i
  );
}
function iy(i) {
  const e = Pt(i), t = e[0] * 256, n = e[1], s = e[2] * 256, r = Math.round(e[3] * 255);
  return [t + n, s + r];
}
const sy = `vec4 unpackColor(vec2 packedColor) {
  return vec4(
    min(floor(packedColor[0] / 256.0) / 255.0, 1.0),
    min(mod(packedColor[0], 256.0) / 255.0, 1.0),
    min(floor(packedColor[1] / 256.0) / 255.0, 1.0),
    min(mod(packedColor[1], 256.0) / 255.0, 1.0)
  );
}`;
function Tl(i) {
  return i === ue || i === xt ? 2 : i === ot ? 4 : 1;
}
function pa(i) {
  const e = Tl(i);
  return e > 1 ? (
    /** @type {'vec2'|'vec3'|'vec4'} */
    `vec${e}`
  ) : "float";
}
function ry(i, e) {
  for (const t in e.variables) {
    const n = e.variables[t], s = El(n.name);
    let r = pa(n.type);
    n.type === ue && (r = "vec4"), i.addUniform(s, r);
  }
  for (const t in e.properties) {
    const n = e.properties[t], s = pa(n.type), r = `a_prop_${n.name}`;
    n.type === ue ? i.addAttribute(
      r,
      s,
      `unpackColor(${r})`,
      "vec4"
    ) : i.addAttribute(r, s);
  }
  for (const t in e.functions)
    i.addVertexShaderFunction(e.functions[t]), i.addFragmentShaderFunction(e.functions[t]);
}
function oy(i, e) {
  const t = {};
  for (const n in i.variables) {
    const s = i.variables[n], r = El(s.name);
    t[r] = () => {
      const o = e[s.name];
      if (typeof o == "number")
        return o;
      if (typeof o == "boolean")
        return o ? 1 : 0;
      if (s.type === ue) {
        const a = [...Pt(o || "#eee")];
        return a[0] /= 255, a[1] /= 255, a[2] /= 255, a[3] ??= 1, a;
      }
      return typeof o == "string" ? ws(o) : o;
    };
  }
  return t;
}
function ay(i) {
  const e = {};
  for (const t in i.properties) {
    const n = i.properties[t], s = (r) => {
      const o = r.get(n.name);
      return n.type === ue ? iy([...Pt(o || "#eee")]) : typeof o == "string" ? ws(o) : typeof o == "boolean" ? o ? 1 : 0 : o;
    };
    e[`prop_${n.name}`] = {
      size: Tl(n.type),
      callback: s
    };
  }
  return e;
}
const ai = `#ifdef GL_FRAGMENT_PRECISION_HIGH
precision highp float;
#else
precision mediump float;
#endif
uniform mat4 u_projectionMatrix;
uniform mat4 u_screenToWorldMatrix;
uniform vec2 u_viewportSizePx;
uniform float u_pixelRatio;
uniform float u_globalAlpha;
uniform float u_time;
uniform float u_zoom;
uniform float u_resolution;
uniform float u_rotation;
uniform vec4 u_renderExtent;
uniform vec2 u_patternOrigin;
uniform float u_depth;
uniform mediump int u_hitDetection;

const float PI = 3.141592653589793238;
const float TWO_PI = 2.0 * PI;
float currentLineMetric = 0.; // an actual value will be used in the stroke shaders

${sy}
`, li = ny();
class ly {
  constructor() {
    this.uniforms_ = [], this.attributes_ = [], this.hasSymbol_ = !1, this.symbolSizeExpression_ = `vec2(${vn(
      li["circle-radius"]
    )} + ${vn(li["circle-stroke-width"] * 0.5)})`, this.symbolRotationExpression_ = "0.0", this.symbolOffsetExpression_ = "vec2(0.0)", this.symbolColorExpression_ = fr(
      /** @type {string} */
      li["circle-fill-color"]
    ), this.texCoordExpression_ = "vec4(0.0, 0.0, 1.0, 1.0)", this.discardExpression_ = "false", this.symbolRotateWithView_ = !1, this.hasStroke_ = !1, this.strokeWidthExpression_ = vn(li["stroke-width"]), this.strokeColorExpression_ = fr(
      /** @type {string} */
      li["stroke-color"]
    ), this.strokeOffsetExpression_ = "0.", this.strokeCapExpression_ = qt("round"), this.strokeJoinExpression_ = qt("round"), this.strokeMiterLimitExpression_ = "10.", this.strokeDistanceFieldExpression_ = "-1000.", this.strokePatternLengthExpression_ = null, this.hasFill_ = !1, this.fillColorExpression_ = fr(
      /** @type {string} */
      li["fill-color"]
    ), this.vertexShaderFunctions_ = [], this.fragmentShaderFunctions_ = [];
  }
  /**
   * Adds a uniform accessible in both fragment and vertex shaders.
   * The given name should include a type, such as `sampler2D u_texture`.
   * @param {string} name Uniform name, including the `u_` prefix
   * @param {'float'|'vec2'|'vec3'|'vec4'|'sampler2D'} type GLSL type
   * @return {ShaderBuilder} the builder object
   */
  addUniform(e, t) {
    return this.uniforms_.push({
      name: e,
      type: t
    }), this;
  }
  /**
   * Adds an attribute accessible in the vertex shader, read from the geometry buffer.
   * The given name should include a type, such as `vec2 a_position`.
   * Attributes will also be made available under the same name in fragment shaders.
   * @param {string} name Attribute name, including the `a_` prefix
   * @param {'float'|'vec2'|'vec3'|'vec4'} type GLSL type
   * @param {string} [varyingExpression] Expression which will be assigned to the varying in the vertex shader, and
   * passed on to the fragment shader.
   * @param {'float'|'vec2'|'vec3'|'vec4'} [varyingType] Type of the attribute after transformation;
   * e.g. `vec4` after unpacking color components
   * @return {ShaderBuilder} the builder object
   */
  addAttribute(e, t, n, s) {
    return this.attributes_.push({
      name: e,
      type: t,
      varyingName: e.replace(/^a_/, "v_"),
      varyingType: s ?? t,
      varyingExpression: n ?? e
    }), this;
  }
  /**
   * Sets an expression to compute the size of the shape.
   * This expression can use all the uniforms and attributes available
   * in the vertex shader, and should evaluate to a `vec2` value.
   * @param {string} expression Size expression
   * @return {ShaderBuilder} the builder object
   */
  setSymbolSizeExpression(e) {
    return this.hasSymbol_ = !0, this.symbolSizeExpression_ = e, this;
  }
  /**
   * @return {string} The current symbol size expression
   */
  getSymbolSizeExpression() {
    return this.symbolSizeExpression_;
  }
  /**
   * Sets an expression to compute the rotation of the shape.
   * This expression can use all the uniforms and attributes available
   * in the vertex shader, and should evaluate to a `float` value in radians.
   * @param {string} expression Size expression
   * @return {ShaderBuilder} the builder object
   */
  setSymbolRotationExpression(e) {
    return this.symbolRotationExpression_ = e, this;
  }
  /**
   * Sets an expression to compute the offset of the symbol from the point center.
   * This expression can use all the uniforms and attributes available
   * in the vertex shader, and should evaluate to a `vec2` value.
   * @param {string} expression Offset expression
   * @return {ShaderBuilder} the builder object
   */
  setSymbolOffsetExpression(e) {
    return this.symbolOffsetExpression_ = e, this;
  }
  /**
   * @return {string} The current symbol offset expression
   */
  getSymbolOffsetExpression() {
    return this.symbolOffsetExpression_;
  }
  /**
   * Sets an expression to compute the color of the shape.
   * This expression can use all the uniforms, varyings and attributes available
   * in the fragment shader, and should evaluate to a `vec4` value.
   * @param {string} expression Color expression
   * @return {ShaderBuilder} the builder object
   */
  setSymbolColorExpression(e) {
    return this.hasSymbol_ = !0, this.symbolColorExpression_ = e, this;
  }
  /**
   * @return {string} The current symbol color expression
   */
  getSymbolColorExpression() {
    return this.symbolColorExpression_;
  }
  /**
   * Sets an expression to compute the texture coordinates of the vertices.
   * This expression can use all the uniforms and attributes available
   * in the vertex shader, and should evaluate to a `vec4` value.
   * @param {string} expression Texture coordinate expression
   * @return {ShaderBuilder} the builder object
   */
  setTextureCoordinateExpression(e) {
    return this.texCoordExpression_ = e, this;
  }
  /**
   * Sets an expression to determine whether a fragment (pixel) should be discarded,
   * i.e. not drawn at all.
   * This expression can use all the uniforms, varyings and attributes available
   * in the fragment shader, and should evaluate to a `bool` value (it will be
   * used in an `if` statement)
   * @param {string} expression Fragment discard expression
   * @return {ShaderBuilder} the builder object
   */
  setFragmentDiscardExpression(e) {
    return this.discardExpression_ = e, this;
  }
  /**
   * @return {string} The current fragment discard expression
   */
  getFragmentDiscardExpression() {
    return this.discardExpression_;
  }
  /**
   * Sets whether the symbols should rotate with the view or stay aligned with the map.
   * Note: will only be used for point geometry shaders.
   * @param {boolean} rotateWithView Rotate with view
   * @return {ShaderBuilder} the builder object
   */
  setSymbolRotateWithView(e) {
    return this.symbolRotateWithView_ = e, this;
  }
  /**
   * @param {string} expression Stroke width expression, returning value in pixels
   * @return {ShaderBuilder} the builder object
   */
  setStrokeWidthExpression(e) {
    return this.hasStroke_ = !0, this.strokeWidthExpression_ = e, this;
  }
  /**
   * @param {string} expression Stroke color expression, evaluate to `vec4`: can rely on currentLengthPx and currentRadiusPx
   * @return {ShaderBuilder} the builder object
   */
  setStrokeColorExpression(e) {
    return this.hasStroke_ = !0, this.strokeColorExpression_ = e, this;
  }
  /**
   * @return {string} The current stroke color expression
   */
  getStrokeColorExpression() {
    return this.strokeColorExpression_;
  }
  /**
   * @param {string} expression Stroke color expression, evaluate to `float`
   * @return {ShaderBuilder} the builder object
   */
  setStrokeOffsetExpression(e) {
    return this.strokeOffsetExpression_ = e, this;
  }
  /**
   * @param {string} expression Stroke line cap expression, evaluate to `float`
   * @return {ShaderBuilder} the builder object
   */
  setStrokeCapExpression(e) {
    return this.strokeCapExpression_ = e, this;
  }
  /**
   * @param {string} expression Stroke line join expression, evaluate to `float`
   * @return {ShaderBuilder} the builder object
   */
  setStrokeJoinExpression(e) {
    return this.strokeJoinExpression_ = e, this;
  }
  /**
   * @param {string} expression Stroke miter limit expression, evaluate to `float`
   * @return {ShaderBuilder} the builder object
   */
  setStrokeMiterLimitExpression(e) {
    return this.strokeMiterLimitExpression_ = e, this;
  }
  /**
   * @param {string} expression Stroke distance field expression, evaluate to `float`
   * This can override the default distance field; can rely on currentLengthPx and currentRadiusPx
   * @return {ShaderBuilder} the builder object
   */
  setStrokeDistanceFieldExpression(e) {
    return this.strokeDistanceFieldExpression_ = e, this;
  }
  /**
   * Defining a pattern length for a stroke lets us avoid having visual artifacts when
   * a linestring is very long and thus has very high "distance" attributes on its vertices.
   * If we apply a pattern or dash array to a stroke we know for certain that the full distance value
   * is not necessary and can be trimmed down using `mod(currentDistance, patternLength)`.
   * @param {string} expression Stroke expression that evaluates to a`float; value is expected to be
   * in pixels.
   * @return {ShaderBuilder} the builder object
   */
  setStrokePatternLengthExpression(e) {
    return this.strokePatternLengthExpression_ = e, this;
  }
  /**
   * @return {string} The current stroke pattern length expression.
   */
  getStrokePatternLengthExpression() {
    return this.strokePatternLengthExpression_;
  }
  /**
   * @param {string} expression Fill color expression, evaluate to `vec4`
   * @return {ShaderBuilder} the builder object
   */
  setFillColorExpression(e) {
    return this.hasFill_ = !0, this.fillColorExpression_ = e, this;
  }
  /**
   * @return {string} The current fill color expression
   */
  getFillColorExpression() {
    return this.fillColorExpression_;
  }
  addVertexShaderFunction(e) {
    return this.vertexShaderFunctions_.includes(e) ? this : (this.vertexShaderFunctions_.push(e), this);
  }
  addFragmentShaderFunction(e) {
    return this.fragmentShaderFunctions_.includes(e) ? this : (this.fragmentShaderFunctions_.push(e), this);
  }
  /**
   * Generates a symbol vertex shader from the builder parameters
   * @return {string|null} The full shader as a string; null if no size or color specified
   */
  getSymbolVertexShader() {
    return this.hasSymbol_ ? `${ai}
${this.uniforms_.map((e) => `uniform ${e.type} ${e.name};`).join(`
`)}
attribute vec2 a_position;
attribute vec2 a_localPosition;
attribute vec2 a_hitColor;

varying vec2 v_texCoord;
varying vec2 v_quadCoord;
varying vec4 v_hitColor;
varying vec2 v_centerPx;
varying float v_angle;
varying vec2 v_quadSizePx;

${this.attributes_.map(
      (e) => `attribute ${e.type} ${e.name};
varying ${e.varyingType} ${e.varyingName};`
    ).join(`
`)}
${this.vertexShaderFunctions_.join(`
`)}
vec2 pxToScreen(vec2 coordPx) {
  vec2 scaled = coordPx / u_viewportSizePx / 0.5;
  return scaled;
}

vec2 screenToPx(vec2 coordScreen) {
  return (coordScreen * 0.5 + 0.5) * u_viewportSizePx;
}

void main(void) {
  v_quadSizePx = ${this.symbolSizeExpression_};
  vec2 halfSizePx = v_quadSizePx * 0.5;
  vec2 centerOffsetPx = ${this.symbolOffsetExpression_};
  vec2 offsetPx = centerOffsetPx + a_localPosition * halfSizePx * vec2(1., -1.);
  float angle = ${this.symbolRotationExpression_}${this.symbolRotateWithView_ ? " + u_rotation" : ""};
  float c = cos(-angle);
  float s = sin(-angle);
  offsetPx = vec2(c * offsetPx.x - s * offsetPx.y, s * offsetPx.x + c * offsetPx.y);
  vec4 center = u_projectionMatrix * vec4(a_position, 0.0, 1.0);
  gl_Position = center + vec4(pxToScreen(offsetPx), u_depth, 0.);
  vec4 texCoord = ${this.texCoordExpression_};
  float u = mix(texCoord.s, texCoord.p, a_localPosition.x * 0.5 + 0.5);
  float v = mix(texCoord.t, texCoord.q, a_localPosition.y * 0.5 + 0.5);
  v_texCoord = vec2(u, v);
  v_hitColor = unpackColor(a_hitColor);
  v_angle = angle;
  c = cos(-v_angle);
  s = sin(-v_angle);
  centerOffsetPx = vec2(c * centerOffsetPx.x - s * centerOffsetPx.y, s * centerOffsetPx.x + c * centerOffsetPx.y);
  v_centerPx = screenToPx(center.xy) + centerOffsetPx;
${this.attributes_.map(
      (e) => `  ${e.varyingName} = ${e.varyingExpression};`
    ).join(`
`)}
}` : null;
  }
  /**
   * Generates a symbol fragment shader from the builder parameters
   * @return {string|null} The full shader as a string; null if no size or color specified
   */
  getSymbolFragmentShader() {
    return this.hasSymbol_ ? `${ai}
${this.uniforms_.map((e) => `uniform ${e.type} ${e.name};`).join(`
`)}
varying vec2 v_texCoord;
varying vec4 v_hitColor;
varying vec2 v_centerPx;
varying float v_angle;
varying vec2 v_quadSizePx;
${this.attributes_.map(
      (e) => `varying ${e.varyingType} ${e.varyingName};`
    ).join(`
`)}
${this.fragmentShaderFunctions_.join(`
`)}

void main(void) {
${this.attributes_.map(
      (e) => `  ${e.varyingType} ${e.name} = ${e.varyingName}; // assign to original attribute name`
    ).join(`
`)}
  if (${this.discardExpression_}) { discard; }
  vec2 coordsPx = gl_FragCoord.xy / u_pixelRatio - v_centerPx; // relative to center
  float c = cos(v_angle);
  float s = sin(v_angle);
  coordsPx = vec2(c * coordsPx.x - s * coordsPx.y, s * coordsPx.x + c * coordsPx.y);
  gl_FragColor = ${this.symbolColorExpression_};
  gl_FragColor.rgb *= gl_FragColor.a;
  if (u_hitDetection > 0) {
    if (gl_FragColor.a < 0.05) { discard; };
    gl_FragColor = v_hitColor;
  }
}` : null;
  }
  /**
   * Generates a stroke vertex shader from the builder parameters
   * @return {string|null} The full shader as a string; null if no size or color specified
   */
  getStrokeVertexShader() {
    return this.hasStroke_ ? `${ai}
${this.uniforms_.map((e) => `uniform ${e.type} ${e.name};`).join(`
`)}
attribute vec2 a_segmentStart;
attribute vec2 a_segmentEnd;
attribute vec2 a_localPosition;
attribute float a_measureStart;
attribute float a_measureEnd;
attribute float a_angleTangentSum;
attribute float a_distanceLow;
attribute float a_distanceHigh;
attribute vec2 a_joinAngles;
attribute vec2 a_hitColor;

varying vec2 v_segmentStartPx;
varying vec2 v_segmentEndPx;
varying float v_angleStart;
varying float v_angleEnd;
varying float v_width;
varying vec4 v_hitColor;
varying float v_distancePx;
varying float v_measureStart;
varying float v_measureEnd;

${this.attributes_.map(
      (e) => `attribute ${e.type} ${e.name};
varying ${e.varyingType} ${e.varyingName};`
    ).join(`
`)}
${this.vertexShaderFunctions_.join(`
`)}
vec2 worldToPx(vec2 worldPos) {
  vec4 screenPos = u_projectionMatrix * vec4(worldPos, 0.0, 1.0);
  return (0.5 * screenPos.xy + 0.5) * u_viewportSizePx;
}

vec4 pxToScreen(vec2 pxPos) {
  vec2 screenPos = 2.0 * pxPos / u_viewportSizePx - 1.0;
  return vec4(screenPos, u_depth, 1.0);
}

bool isCap(float joinAngle) {
  return joinAngle < -0.1;
}

vec2 getJoinOffsetDirection(vec2 normalPx, float joinAngle) {
  float halfAngle = joinAngle / 2.0;
  float c = cos(halfAngle);
  float s = sin(halfAngle);
  vec2 angleBisectorNormal = vec2(s * normalPx.x + c * normalPx.y, -c * normalPx.x + s * normalPx.y);
  float length = 1.0 / s;
  return angleBisectorNormal * length;
}

vec2 getOffsetPoint(vec2 point, vec2 normal, float joinAngle, float offsetPx) {
  // if on a cap or the join angle is too high, offset the line along the segment normal
  if (cos(joinAngle) > 0.998 || isCap(joinAngle)) {
    return point - normal * offsetPx;
  }
  // offset is applied along the inverted normal (positive offset goes "right" relative to line direction)
  return point - getJoinOffsetDirection(normal, joinAngle) * offsetPx;
}

void main(void) {
  v_angleStart = a_joinAngles.x;
  v_angleEnd = a_joinAngles.y;
  float startEndRatio = a_localPosition.x * 0.5 + 0.5;
  currentLineMetric = mix(a_measureStart, a_measureEnd, startEndRatio);
  // we're reading the fractional part while keeping the sign (so -4.12 gives -0.12, 3.45 gives 0.45)

  float lineWidth = ${this.strokeWidthExpression_};
  float lineOffsetPx = ${this.strokeOffsetExpression_};

  // compute segment start/end in px with offset
  vec2 segmentStartPx = worldToPx(a_segmentStart);
  vec2 segmentEndPx = worldToPx(a_segmentEnd);
  vec2 tangentPx = normalize(segmentEndPx - segmentStartPx);
  vec2 normalPx = vec2(-tangentPx.y, tangentPx.x);
  segmentStartPx = getOffsetPoint(segmentStartPx, normalPx, v_angleStart, lineOffsetPx),
  segmentEndPx = getOffsetPoint(segmentEndPx, normalPx, v_angleEnd, lineOffsetPx);

  // compute current vertex position
  float normalDir = -1. * a_localPosition.y;
  float tangentDir = -1. * a_localPosition.x;
  float angle = mix(v_angleStart, v_angleEnd, startEndRatio);
  vec2 joinDirection;
  vec2 positionPx = mix(segmentStartPx, segmentEndPx, startEndRatio);
  // if angle is too high, do not make a proper join
  if (cos(angle) > ${Hc} || isCap(angle)) {
    joinDirection = normalPx * normalDir - tangentPx * tangentDir;
  } else {
    joinDirection = getJoinOffsetDirection(normalPx * normalDir, angle);
  }
  positionPx = positionPx + joinDirection * (lineWidth * 0.5 + 1.); // adding 1 pixel for antialiasing
  gl_Position = pxToScreen(positionPx);

  v_segmentStartPx = segmentStartPx;
  v_segmentEndPx = segmentEndPx;
  v_width = lineWidth;
  v_hitColor = unpackColor(a_hitColor);

  v_distancePx = a_distanceLow / u_resolution - (lineOffsetPx * a_angleTangentSum);
  float distanceHighPx = a_distanceHigh / u_resolution;
  ${this.strokePatternLengthExpression_ !== null ? `v_distancePx = mod(v_distancePx, ${this.strokePatternLengthExpression_});
  distanceHighPx = mod(distanceHighPx, ${this.strokePatternLengthExpression_});
  ` : ""}v_distancePx += distanceHighPx;

  v_measureStart = a_measureStart;
  v_measureEnd = a_measureEnd;
${this.attributes_.map(
      (e) => `  ${e.varyingName} = ${e.varyingExpression};`
    ).join(`
`)}
}` : null;
  }
  /**
   * Generates a stroke fragment shader from the builder parameters
   *
   * @return {string|null} The full shader as a string; null if no size or color specified
   */
  getStrokeFragmentShader() {
    return this.hasStroke_ ? `${ai}
${this.uniforms_.map((e) => `uniform ${e.type} ${e.name};`).join(`
`)}
varying vec2 v_segmentStartPx;
varying vec2 v_segmentEndPx;
varying float v_angleStart;
varying float v_angleEnd;
varying float v_width;
varying vec4 v_hitColor;
varying float v_distancePx;
varying float v_measureStart;
varying float v_measureEnd;
${this.attributes_.map(
      (e) => `varying ${e.varyingType} ${e.varyingName};`
    ).join(`
`)}
${this.fragmentShaderFunctions_.join(`
`)}

vec2 pxToWorld(vec2 pxPos) {
  vec2 screenPos = 2.0 * pxPos / u_viewportSizePx - 1.0;
  return (u_screenToWorldMatrix * vec4(screenPos, 0.0, 1.0)).xy;
}

bool isCap(float joinAngle) {
  return joinAngle < -0.1;
}

float segmentDistanceField(vec2 point, vec2 start, vec2 end, float width) {
  vec2 tangent = normalize(end - start);
  vec2 normal = vec2(-tangent.y, tangent.x);
  vec2 startToPoint = point - start;
  return abs(dot(startToPoint, normal)) - width * 0.5;
}

float buttCapDistanceField(vec2 point, vec2 start, vec2 end) {
  vec2 startToPoint = point - start;
  vec2 tangent = normalize(end - start);
  return dot(startToPoint, -tangent);
}

float squareCapDistanceField(vec2 point, vec2 start, vec2 end, float width) {
  return buttCapDistanceField(point, start, end) - width * 0.5;
}

float roundCapDistanceField(vec2 point, vec2 start, vec2 end, float width) {
  float onSegment = max(0., 1000. * dot(point - start, end - start)); // this is very high when inside the segment
  return length(point - start) - width * 0.5 - onSegment;
}

float roundJoinDistanceField(vec2 point, vec2 start, vec2 end, float width) {
  return roundCapDistanceField(point, start, end, width);
}

float bevelJoinField(vec2 point, vec2 start, vec2 end, float width, float joinAngle) {
  vec2 startToPoint = point - start;
  vec2 tangent = normalize(end - start);
  float c = cos(joinAngle * 0.5);
  float s = sin(joinAngle * 0.5);
  float direction = -sign(sin(joinAngle));
  vec2 bisector = vec2(c * tangent.x - s * tangent.y, s * tangent.x + c * tangent.y);
  float radius = width * 0.5 * s;
  return dot(startToPoint, bisector * direction) - radius;
}

float miterJoinDistanceField(vec2 point, vec2 start, vec2 end, float width, float joinAngle) {
  if (cos(joinAngle) > ${Hc}) { // avoid risking a division by zero
    return bevelJoinField(point, start, end, width, joinAngle);
  }
  float miterLength = 1. / sin(joinAngle * 0.5);
  float miterLimit = ${this.strokeMiterLimitExpression_};
  if (miterLength > miterLimit) {
    return bevelJoinField(point, start, end, width, joinAngle);
  }
  return -1000.;
}

float capDistanceField(vec2 point, vec2 start, vec2 end, float width, float capType) {
   if (capType == ${qt("butt")}) {
    return buttCapDistanceField(point, start, end);
  } else if (capType == ${qt("square")}) {
    return squareCapDistanceField(point, start, end, width);
  }
  return roundCapDistanceField(point, start, end, width);
}

float joinDistanceField(vec2 point, vec2 start, vec2 end, float width, float joinAngle, float joinType) {
  if (joinType == ${qt("bevel")}) {
    return bevelJoinField(point, start, end, width, joinAngle);
  } else if (joinType == ${qt("miter")}) {
    return miterJoinDistanceField(point, start, end, width, joinAngle);
  }
  return roundJoinDistanceField(point, start, end, width);
}

float computeSegmentPointDistance(vec2 point, vec2 start, vec2 end, float width, float joinAngle, float capType, float joinType) {
  if (isCap(joinAngle)) {
    return capDistanceField(point, start, end, width, capType);
  }
  return joinDistanceField(point, start, end, width, joinAngle, joinType);
}

float distanceFromSegment(vec2 point, vec2 start, vec2 end) {
  vec2 tangent = end - start;
  vec2 startToPoint = point - start;
  // inspire by capsule fn in https://iquilezles.org/articles/distfunctions/
  float h = clamp(dot(startToPoint, tangent) / dot(tangent, tangent), 0.0, 1.0);
  return length(startToPoint - tangent * h);
}

void main(void) {
${this.attributes_.map(
      (e) => `  ${e.varyingType} ${e.name} = ${e.varyingName}; // assign to original attribute name`
    ).join(`
`)}

  vec2 currentPointPx = gl_FragCoord.xy / u_pixelRatio;
  #ifdef GL_FRAGMENT_PRECISION_HIGH
  vec2 worldPos = pxToWorld(currentPointPx);
  if (
    abs(u_renderExtent[0] - u_renderExtent[2]) > 0.0 && (
      worldPos[0] < u_renderExtent[0] ||
      worldPos[1] < u_renderExtent[1] ||
      worldPos[0] > u_renderExtent[2] ||
      worldPos[1] > u_renderExtent[3]
    )
  ) {
    discard;
  }
  #endif

  float segmentLengthPx = length(v_segmentEndPx - v_segmentStartPx);
  segmentLengthPx = max(segmentLengthPx, 1.17549429e-38); // avoid divide by zero
  vec2 segmentTangent = (v_segmentEndPx - v_segmentStartPx) / segmentLengthPx;
  vec2 segmentNormal = vec2(-segmentTangent.y, segmentTangent.x);
  vec2 startToPointPx = currentPointPx - v_segmentStartPx;
  float lengthToPointPx = max(0., min(dot(segmentTangent, startToPointPx), segmentLengthPx));
  float currentLengthPx = lengthToPointPx + v_distancePx;
  float currentRadiusPx = distanceFromSegment(currentPointPx, v_segmentStartPx, v_segmentEndPx);
  float currentRadiusRatio = dot(segmentNormal, startToPointPx) * 2. / v_width;
  currentLineMetric = mix(v_measureStart, v_measureEnd, lengthToPointPx / segmentLengthPx);

  if (${this.discardExpression_}) { discard; }

  float capType = ${this.strokeCapExpression_};
  float joinType = ${this.strokeJoinExpression_};
  float segmentStartDistance = computeSegmentPointDistance(currentPointPx, v_segmentStartPx, v_segmentEndPx, v_width, v_angleStart, capType, joinType);
  float segmentEndDistance = computeSegmentPointDistance(currentPointPx, v_segmentEndPx, v_segmentStartPx, v_width, v_angleEnd, capType, joinType);
  float distanceField = max(
    segmentDistanceField(currentPointPx, v_segmentStartPx, v_segmentEndPx, v_width),
    max(segmentStartDistance, segmentEndDistance)
  );
  distanceField = max(distanceField, ${this.strokeDistanceFieldExpression_});

  vec4 color = ${this.strokeColorExpression_};
  color.a *= smoothstep(0.5, -0.5, distanceField);
  gl_FragColor = color;
  gl_FragColor.a *= u_globalAlpha;
  gl_FragColor.rgb *= gl_FragColor.a;
  if (u_hitDetection > 0) {
    if (gl_FragColor.a < 0.1) { discard; };
    gl_FragColor = v_hitColor;
  }
}` : null;
  }
  /**
   * Generates a fill vertex shader from the builder parameters
   *
   * @return {string|null} The full shader as a string; null if no color specified
   */
  getFillVertexShader() {
    return this.hasFill_ ? `${ai}
${this.uniforms_.map((e) => `uniform ${e.type} ${e.name};`).join(`
`)}
attribute vec2 a_position;
attribute vec2 a_hitColor;

varying vec4 v_hitColor;

${this.attributes_.map(
      (e) => `attribute ${e.type} ${e.name};
varying ${e.varyingType} ${e.varyingName};`
    ).join(`
`)}
${this.vertexShaderFunctions_.join(`
`)}
void main(void) {
  gl_Position = u_projectionMatrix * vec4(a_position, u_depth, 1.0);
  v_hitColor = unpackColor(a_hitColor);
${this.attributes_.map(
      (e) => `  ${e.varyingName} = ${e.varyingExpression};`
    ).join(`
`)}
}` : null;
  }
  /**
   * Generates a fill fragment shader from the builder parameters
   * @return {string|null} The full shader as a string; null if no color specified
   */
  getFillFragmentShader() {
    return this.hasFill_ ? `${ai}
${this.uniforms_.map((e) => `uniform ${e.type} ${e.name};`).join(`
`)}
varying vec4 v_hitColor;
${this.attributes_.map(
      (e) => `varying ${e.varyingType} ${e.varyingName};`
    ).join(`
`)}
${this.fragmentShaderFunctions_.join(`
`)}
vec2 pxToWorld(vec2 pxPos) {
  vec2 screenPos = 2.0 * pxPos / u_viewportSizePx - 1.0;
  return (u_screenToWorldMatrix * vec4(screenPos, 0.0, 1.0)).xy;
}

vec2 worldToPx(vec2 worldPos) {
  vec4 screenPos = u_projectionMatrix * vec4(worldPos, 0.0, 1.0);
  return (0.5 * screenPos.xy + 0.5) * u_viewportSizePx;
}

void main(void) {
${this.attributes_.map(
      (e) => `  ${e.varyingType} ${e.name} = ${e.varyingName}; // assign to original attribute name`
    ).join(`
`)}
  vec2 pxPos = gl_FragCoord.xy / u_pixelRatio;
  vec2 pxOrigin = worldToPx(u_patternOrigin);
  #ifdef GL_FRAGMENT_PRECISION_HIGH
  vec2 worldPos = pxToWorld(pxPos);
  if (
    abs(u_renderExtent[0] - u_renderExtent[2]) > 0.0 && (
      worldPos[0] < u_renderExtent[0] ||
      worldPos[1] < u_renderExtent[1] ||
      worldPos[0] > u_renderExtent[2] ||
      worldPos[1] > u_renderExtent[3]
    )
  ) {
    discard;
  }
  #endif
  if (${this.discardExpression_}) { discard; }
  gl_FragColor = ${this.fillColorExpression_};
  gl_FragColor.a *= u_globalAlpha;
  gl_FragColor.rgb *= gl_FragColor.a;
  if (u_hitDetection > 0) {
    if (gl_FragColor.a < 0.1) { discard; };
    gl_FragColor = v_hitColor;
  }
}` : null;
  }
}
function Lr(i) {
  return (JSON.stringify(i).split("").reduce((t, n) => (t << 5) - t + n.charCodeAt(0), 0) >>> 0).toString();
}
function Sl(i, e, t, n) {
  if (`${n}radius` in i && n !== "icon-") {
    let s = Z(
      t,
      i[`${n}radius`],
      B
    );
    if (`${n}radius2` in i) {
      const r = Z(
        t,
        i[`${n}radius2`],
        B
      );
      s = `max(${s}, ${r})`;
    }
    `${n}stroke-width` in i && (s = `(${s} + ${Z(
      t,
      i[`${n}stroke-width`],
      B
    )} * 0.5)`), e.setSymbolSizeExpression(`vec2(${s} * 2. + 0.5)`);
  }
  if (`${n}scale` in i) {
    const s = Z(
      t,
      i[`${n}scale`],
      xt
    );
    e.setSymbolSizeExpression(
      `${e.getSymbolSizeExpression()} * ${s}`
    );
  }
  `${n}displacement` in i && e.setSymbolOffsetExpression(
    Z(
      t,
      i[`${n}displacement`],
      ot
    )
  ), `${n}rotation` in i && e.setSymbolRotationExpression(
    Z(t, i[`${n}rotation`], B)
  ), `${n}rotate-with-view` in i && e.setSymbolRotateWithView(!!i[`${n}rotate-with-view`]);
}
function zu(i, e, t, n, s) {
  let r = "vec4(0.)";
  if (e !== null && (r = e), t !== null && n !== null) {
    const l = `smoothstep(-${n} + 0.63, -${n} - 0.58, ${i})`;
    r = `mix(${t}, ${r}, ${l})`;
  }
  const o = `(1.0 - smoothstep(-0.63, 0.58, ${i}))`;
  let a = `${r} * vec4(1.0, 1.0, 1.0, ${o})`;
  return s !== null && (a = `${a} * vec4(1.0, 1.0, 1.0, ${s})`), a;
}
function Rl(i, e, t, n, s) {
  const r = new Image();
  r.crossOrigin = i[`${n}cross-origin`] === void 0 ? "anonymous" : i[`${n}cross-origin`], ie(
    typeof i[`${n}src`] == "string",
    `WebGL layers do not support expressions for the ${n}src style property`
  ), r.src = /** @type {string} */
  i[`${n}src`], t[`u_texture${s}_size`] = () => r.complete ? [r.width, r.height] : [0, 0], e.addUniform(`u_texture${s}_size`, "vec2");
  const o = `u_texture${s}_size`;
  return t[`u_texture${s}`] = r, e.addUniform(`u_texture${s}`, "sampler2D"), o;
}
function wl(i, e, t, n, s) {
  let r = Z(
    t,
    i[`${e}offset`],
    xt
  );
  if (`${e}offset-origin` in i)
    switch (i[`${e}offset-origin`]) {
      case "top-right":
        r = `vec2(${n}.x, 0.) + ${s} * vec2(-1., 0.) + ${r} * vec2(-1., 1.)`;
        break;
      case "bottom-left":
        r = `vec2(0., ${n}.y) + ${s} * vec2(0., -1.) + ${r} * vec2(1., -1.)`;
        break;
      case "bottom-right":
        r = `${n} - ${s} - ${r}`;
        break;
    }
  return r;
}
function cy(i, e, t, n) {
  n.functions.circleDistanceField = `float circleDistanceField(vec2 point, float radius) {
  return length(point) - radius;
}`, Sl(i, e, n, "circle-");
  let s = null;
  "circle-opacity" in i && (s = Z(n, i["circle-opacity"], B));
  let r = "coordsPx";
  "circle-scale" in i && (r = `coordsPx / ${Z(n, i["circle-scale"], xt)}`);
  let o = null;
  "circle-fill-color" in i && (o = Z(
    n,
    i["circle-fill-color"],
    ue
  ));
  let a = null;
  "circle-stroke-color" in i && (a = Z(
    n,
    i["circle-stroke-color"],
    ue
  ));
  let l = Z(n, i["circle-radius"], B), c = null;
  "circle-stroke-width" in i && (c = Z(
    n,
    i["circle-stroke-width"],
    B
  ), l = `(${l} + ${c} * 0.5)`);
  const h = `circleDistanceField(${r}, ${l})`, u = zu(
    h,
    o,
    a,
    c,
    s
  );
  e.setSymbolColorExpression(u);
}
function hy(i, e, t, n) {
  n.functions.round = `float round(float v) {
  return sign(v) * floor(abs(v) + 0.5);
}`, n.functions.starDistanceField = `float starDistanceField(vec2 point, float numPoints, float radius, float radius2, float angle) {
  float startAngle = -PI * 0.5 + angle; // tip starts upwards and rotates clockwise with angle
  float c = cos(startAngle);
  float s = sin(startAngle);
  vec2 pointRotated = vec2(c * point.x - s * point.y, s * point.x + c * point.y);
  float alpha = TWO_PI / numPoints; // the angle of one sector
  float beta = atan(pointRotated.y, pointRotated.x);
  float gamma = round(beta / alpha) * alpha; // angle in sector
  c = cos(-gamma);
  s = sin(-gamma);
  vec2 inSector = vec2(c * pointRotated.x - s * pointRotated.y, abs(s * pointRotated.x + c * pointRotated.y));
  vec2 tipToPoint = inSector + vec2(-radius, 0.);
  vec2 edgeNormal = vec2(radius2 * sin(alpha * 0.5), -radius2 * cos(alpha * 0.5) + radius);
  return dot(normalize(edgeNormal), tipToPoint);
}`, n.functions.regularDistanceField = `float regularDistanceField(vec2 point, float numPoints, float radius, float angle) {
  float startAngle = -PI * 0.5 + angle; // tip starts upwards and rotates clockwise with angle
  float c = cos(startAngle);
  float s = sin(startAngle);
  vec2 pointRotated = vec2(c * point.x - s * point.y, s * point.x + c * point.y);
  float alpha = TWO_PI / numPoints; // the angle of one sector
  float radiusIn = radius * cos(PI / numPoints);
  float beta = atan(pointRotated.y, pointRotated.x);
  float gamma = round((beta - alpha * 0.5) / alpha) * alpha + alpha * 0.5; // angle in sector from mid
  c = cos(-gamma);
  s = sin(-gamma);
  vec2 inSector = vec2(c * pointRotated.x - s * pointRotated.y, abs(s * pointRotated.x + c * pointRotated.y));
  return inSector.x - radiusIn;
}`, Sl(i, e, n, "shape-");
  let s = null;
  "shape-opacity" in i && (s = Z(n, i["shape-opacity"], B));
  let r = "coordsPx";
  "shape-scale" in i && (r = `coordsPx / ${Z(n, i["shape-scale"], xt)}`);
  let o = null;
  "shape-fill-color" in i && (o = Z(n, i["shape-fill-color"], ue));
  let a = null;
  "shape-stroke-color" in i && (a = Z(
    n,
    i["shape-stroke-color"],
    ue
  ));
  let l = null;
  "shape-stroke-width" in i && (l = Z(
    n,
    i["shape-stroke-width"],
    B
  ));
  const c = Z(
    n,
    i["shape-points"],
    B
  );
  let h = "0.";
  "shape-angle" in i && (h = Z(n, i["shape-angle"], B));
  let u, d = Z(n, i["shape-radius"], B);
  if (l !== null && (d = `${d} + ${l} * 0.5`), "shape-radius2" in i) {
    let g = Z(n, i["shape-radius2"], B);
    l !== null && (g = `${g} + ${l} * 0.5`), u = `starDistanceField(${r}, ${c}, ${d}, ${g}, ${h})`;
  } else
    u = `regularDistanceField(${r}, ${c}, ${d}, ${h})`;
  const f = zu(
    u,
    o,
    a,
    l,
    s
  );
  e.setSymbolColorExpression(f);
}
function uy(i, e, t, n) {
  let s = "vec4(1.0)";
  "icon-color" in i && (s = Z(n, i["icon-color"], ue)), "icon-opacity" in i && (s = `${s} * vec4(1.0, 1.0, 1.0, ${Z(
    n,
    i["icon-opacity"],
    B
  )})`);
  const r = Lr(i["icon-src"]), o = Rl(
    i,
    e,
    t,
    "icon-",
    r
  );
  if (e.setSymbolColorExpression(
    `${s} * texture2D(u_texture${r}, v_texCoord)`
  ).setSymbolSizeExpression(o), "icon-width" in i && "icon-height" in i && e.setSymbolSizeExpression(
    `vec2(${Z(
      n,
      i["icon-width"],
      B
    )}, ${Z(n, i["icon-height"], B)})`
  ), "icon-offset" in i && "icon-size" in i) {
    const a = Z(
      n,
      i["icon-size"],
      ot
    ), l = e.getSymbolSizeExpression();
    e.setSymbolSizeExpression(a);
    const c = wl(
      i,
      "icon-",
      n,
      "v_quadSizePx",
      a
    );
    e.setTextureCoordinateExpression(
      `(vec4((${c}).xyxy) + vec4(0., 0., ${a})) / (${l}).xyxy`
    );
  }
  if (Sl(i, e, n, "icon-"), "icon-anchor" in i) {
    const a = Z(
      n,
      i["icon-anchor"],
      ot
    );
    let l = "1.0";
    "icon-scale" in i && (l = Z(n, i["icon-scale"], xt));
    let c;
    i["icon-anchor-x-units"] === "pixels" && i["icon-anchor-y-units"] === "pixels" ? c = `${a} * ${l}` : i["icon-anchor-x-units"] === "pixels" ? c = `${a} * vec2(vec2(${l}).x, v_quadSizePx.y)` : i["icon-anchor-y-units"] === "pixels" ? c = `${a} * vec2(v_quadSizePx.x, vec2(${l}).x)` : c = `${a} * v_quadSizePx`;
    let h = `v_quadSizePx * vec2(0.5, -0.5) + ${c} * vec2(-1., 1.)`;
    if ("icon-anchor-origin" in i)
      switch (i["icon-anchor-origin"]) {
        case "top-right":
          h = `v_quadSizePx * -0.5 + ${c}`;
          break;
        case "bottom-left":
          h = `v_quadSizePx * 0.5 - ${c}`;
          break;
        case "bottom-right":
          h = `v_quadSizePx * vec2(-0.5, 0.5) + ${c} * vec2(1., -1.)`;
          break;
      }
    e.setSymbolOffsetExpression(
      `${e.getSymbolOffsetExpression()} + ${h}`
    );
  }
}
function dy(i, e, t, n) {
  if ("stroke-color" in i && e.setStrokeColorExpression(
    Z(n, i["stroke-color"], ue)
  ), "stroke-pattern-src" in i) {
    const s = Lr(i["stroke-pattern-src"]), r = Rl(
      i,
      e,
      t,
      "stroke-pattern-",
      s
    );
    let o = r, a = "vec2(0.)";
    "stroke-pattern-offset" in i && "stroke-pattern-size" in i && (o = Z(
      n,
      i["stroke-pattern-size"],
      ot
    ), a = wl(
      i,
      "stroke-pattern-",
      n,
      r,
      o
    ));
    let l = "0.";
    "stroke-pattern-spacing" in i && (l = Z(
      n,
      i["stroke-pattern-spacing"],
      B
    ));
    let c = "0.";
    "stroke-pattern-start-offset" in i && (c = Z(
      n,
      i["stroke-pattern-start-offset"],
      B
    )), n.functions.sampleStrokePattern = `vec4 sampleStrokePattern(sampler2D texture, vec2 textureSize, vec2 textureOffset, vec2 sampleSize, float spacingPx, float startOffsetPx, float currentLengthPx, float currentRadiusRatio, float lineWidth) {
  float currentLengthScaled = (currentLengthPx - startOffsetPx) * sampleSize.y / lineWidth;
  float spacingScaled = spacingPx * sampleSize.y / lineWidth;
  float uCoordPx = mod(currentLengthScaled, (sampleSize.x + spacingScaled));
  float isInsideOfPattern = step(uCoordPx, sampleSize.x);
  float vCoordPx = (-currentRadiusRatio * 0.5 + 0.5) * sampleSize.y;
  // make sure that we're not sampling too close to the borders to avoid interpolation with outside pixels
  uCoordPx = clamp(uCoordPx, 0.5, sampleSize.x - 0.5);
  vCoordPx = clamp(vCoordPx, 0.5, sampleSize.y - 0.5);
  vec2 texCoord = (vec2(uCoordPx, vCoordPx) + textureOffset) / textureSize;
  return texture2D(texture, texCoord) * vec4(1.0, 1.0, 1.0, isInsideOfPattern);
}`;
    const h = `u_texture${s}`;
    let u = "1.";
    "stroke-color" in i && (u = e.getStrokeColorExpression()), e.setStrokeColorExpression(
      `${u} * sampleStrokePattern(${h}, ${r}, ${a}, ${o}, ${l}, ${c}, currentLengthPx, currentRadiusRatio, v_width)`
    ), n.functions.computeStrokePatternLength = `float computeStrokePatternLength(vec2 sampleSize, float spacingPx, float lineWidth) {
  float patternLengthPx = sampleSize.x / sampleSize.y * lineWidth;
  return patternLengthPx + spacingPx;
}`, e.setStrokePatternLengthExpression(
      `computeStrokePatternLength(${o}, ${l}, v_width)`
    );
  }
  if ("stroke-width" in i && e.setStrokeWidthExpression(
    Z(n, i["stroke-width"], B)
  ), "stroke-offset" in i && e.setStrokeOffsetExpression(
    Z(n, i["stroke-offset"], B)
  ), "stroke-line-cap" in i && e.setStrokeCapExpression(
    Z(n, i["stroke-line-cap"], Re)
  ), "stroke-line-join" in i && e.setStrokeJoinExpression(
    Z(n, i["stroke-line-join"], Re)
  ), "stroke-miter-limit" in i && e.setStrokeMiterLimitExpression(
    Z(n, i["stroke-miter-limit"], B)
  ), "stroke-line-dash" in i) {
    n.functions.getSingleDashDistance = `float getSingleDashDistance(float distance, float radius, float dashOffset, float dashLength, float dashLengthTotal, float capType, float lineWidth) {
  float localDistance = mod(distance, dashLengthTotal);
  float distanceSegment = abs(localDistance - dashOffset - dashLength * 0.5) - dashLength * 0.5;
  distanceSegment = min(distanceSegment, dashLengthTotal - localDistance);
  if (capType == ${qt("square")}) {
    distanceSegment -= lineWidth * 0.5;
  } else if (capType == ${qt("round")}) {
    distanceSegment = min(distanceSegment, sqrt(distanceSegment * distanceSegment + radius * radius) - lineWidth * 0.5);
  }
  return distanceSegment;
}`;
    let s = i["stroke-line-dash"].map(
      (g) => Z(n, g, B)
    );
    s.length % 2 === 1 && (s = [...s, ...s]);
    let r = "0.";
    "stroke-line-dash-offset" in i && (r = Z(
      n,
      i["stroke-line-dash-offset"],
      B
    ));
    const a = `dashDistanceField_${Lr(i["stroke-line-dash"])}`, l = s.map((g, m) => `float dashLength${m}`).join(", "), c = s.map((g, m) => `dashLength${m}`).join(" + ");
    let h = "0.", u = `getSingleDashDistance(distance, radius, ${h}, dashLength0, totalDashLength, capType, lineWidth)`;
    for (let g = 2; g < s.length; g += 2)
      h = `${h} + dashLength${g - 2} + dashLength${g - 1}`, u = `min(${u}, getSingleDashDistance(distance, radius, ${h}, dashLength${g}, totalDashLength, capType, lineWidth))`;
    n.functions[a] = `float ${a}(float distance, float radius, float capType, float lineWidth, ${l}) {
  float totalDashLength = ${c};
  return ${u};
}`;
    const d = s.map((g, m) => `${g}`).join(", ");
    e.setStrokeDistanceFieldExpression(
      `${a}(currentLengthPx + ${r}, currentRadiusPx, capType, v_width, ${d})`
    );
    let f = s.join(" + ");
    e.getStrokePatternLengthExpression() && (n.functions.combinePatternLengths = `float combinePatternLengths(float patternLength1, float patternLength2) {
  return patternLength1 * patternLength2;
}`, f = `combinePatternLengths(${e.getStrokePatternLengthExpression()}, ${f})`), e.setStrokePatternLengthExpression(f);
  }
}
function fy(i, e, t, n) {
  if ("fill-color" in i && e.setFillColorExpression(
    Z(n, i["fill-color"], ue)
  ), "fill-pattern-src" in i) {
    const s = Lr(i["fill-pattern-src"]), r = Rl(
      i,
      e,
      t,
      "fill-pattern-",
      s
    );
    let o = r, a = "vec2(0.)";
    "fill-pattern-offset" in i && "fill-pattern-size" in i && (o = Z(
      n,
      i["fill-pattern-size"],
      ot
    ), a = wl(
      i,
      "fill-pattern-",
      n,
      r,
      o
    )), n.functions.sampleFillPattern = `vec4 sampleFillPattern(sampler2D texture, vec2 textureSize, vec2 textureOffset, vec2 sampleSize, vec2 pxOrigin, vec2 pxPosition) {
  float scaleRatio = pow(2., mod(u_zoom + 0.5, 1.) - 0.5);
  vec2 pxRelativePos = pxPosition - pxOrigin;
  // rotate the relative position from origin by the current view rotation
  pxRelativePos = vec2(pxRelativePos.x * cos(u_rotation) - pxRelativePos.y * sin(u_rotation), pxRelativePos.x * sin(u_rotation) + pxRelativePos.y * cos(u_rotation));
  // sample position is computed according to the sample offset & size
  vec2 samplePos = mod(pxRelativePos / scaleRatio, sampleSize);
  // also make sure that we're not sampling too close to the borders to avoid interpolation with outside pixels
  samplePos = clamp(samplePos, vec2(0.5), sampleSize - vec2(0.5));
  samplePos.y = sampleSize.y - samplePos.y; // invert y axis so that images appear upright
  return texture2D(texture, (samplePos + textureOffset) / textureSize);
}`;
    const l = `u_texture${s}`;
    let c = "1.";
    "fill-color" in i && (c = e.getFillColorExpression()), e.setFillColorExpression(
      `${c} * sampleFillPattern(${l}, ${r}, ${a}, ${o}, pxOrigin, pxPos)`
    );
  }
}
function qc(i, e, t) {
  const n = K0(), s = new ly(), r = {};
  if ("icon-src" in i ? uy(i, s, r, n) : "shape-points" in i ? hy(i, s, r, n) : "circle-radius" in i && cy(i, s, r, n), dy(i, s, r, n), fy(i, s, r, n), t) {
    const l = Z(n, t, Se);
    s.setFragmentDiscardExpression(`!${l}`);
  }
  const o = {};
  function a(l, c, h, u) {
    if (!n[l])
      return;
    const d = pa(h), f = Tl(h);
    s.addAttribute(`a_${c}`, d), o[c] = {
      size: f,
      callback: u
    };
  }
  return a(
    "geometryType",
    Uu,
    Re,
    (l) => ws(Ha(l.getGeometry()))
  ), a(
    "featureId",
    Bu,
    Re | B,
    (l) => {
      const c = l.getId() ?? null;
      return typeof c == "string" ? ws(c) : c;
    }
  ), ry(s, n), {
    builder: s,
    attributes: { ...o, ...ay(n) },
    uniforms: {
      ...r,
      ...oy(n, e)
    }
  };
}
const gy = [];
let $o;
function _y() {
  return $o || ($o = F0()), $o;
}
let my = 0;
const mt = {
  POSITION: "a_position",
  LOCAL_POSITION: "a_localPosition",
  SEGMENT_START: "a_segmentStart",
  SEGMENT_END: "a_segmentEnd",
  MEASURE_START: "a_measureStart",
  MEASURE_END: "a_measureEnd",
  ANGLE_TANGENT_SUM: "a_angleTangentSum",
  JOIN_ANGLES: "a_joinAngles",
  DISTANCE_LOW: "a_distanceLow",
  DISTANCE_HIGH: "a_distanceHigh"
};
class py {
  /**
   * @param {FlatStyleLike|StyleShaders|Array<StyleShaders>} styles Vector styles expressed as flat styles, flat style rules or style shaders
   * @param {import('../../style/flat.js').StyleVariables} variables Style variables
   * @param {import('../../webgl/Helper.js').default} helper Helper
   * @param {boolean} [enableHitDetection] Whether to enable the hit detection (needs compatible shader)
   */
  constructor(e, t, n, s) {
    this.helper_, this.hitDetectionEnabled_ = !!s, this.styleShaders = yy(e, t), this.customAttributes_ = {}, this.uniforms_ = {}, this.hitDetectionEnabled_ && (this.customAttributes_.hitColor = {
      callback() {
        return b0(this.ref, gy);
      },
      size: 2
    });
    for (const r of this.styleShaders) {
      for (const o in r.attributes)
        o in this.customAttributes_ || (this.customAttributes_[o] = r.attributes[o]);
      for (const o in r.uniforms)
        o in this.uniforms_ || (this.uniforms_[o] = r.uniforms[o]);
    }
    this.renderPasses_ = this.styleShaders.map((r) => {
      const o = {}, a = Object.entries(this.customAttributes_).map(
        ([l, c]) => ({
          name: l in r.attributes || l === "hitColor" ? `a_${l}` : null,
          // giving a null name means this is only used for "spacing" in between attributes
          size: c.size || 1,
          type: Ge.FLOAT
        })
      );
      return r.builder.getFillVertexShader() && (o.fillRenderPass = {
        vertexShader: r.builder.getFillVertexShader(),
        fragmentShader: r.builder.getFillFragmentShader(),
        attributesDesc: [
          {
            name: mt.POSITION,
            size: 2,
            type: Ge.FLOAT
          },
          ...a
        ],
        instancedAttributesDesc: [],
        // no instanced rendering for polygons
        instancePrimitiveVertexCount: 3
      }), r.builder.getStrokeVertexShader() && (o.strokeRenderPass = {
        vertexShader: r.builder.getStrokeVertexShader(),
        fragmentShader: r.builder.getStrokeFragmentShader(),
        attributesDesc: [
          {
            name: mt.LOCAL_POSITION,
            size: 2,
            type: Ge.FLOAT
          }
        ],
        instancedAttributesDesc: [
          {
            name: mt.SEGMENT_START,
            size: 2,
            type: Ge.FLOAT
          },
          {
            name: mt.MEASURE_START,
            size: 1,
            type: Ge.FLOAT
          },
          {
            name: mt.SEGMENT_END,
            size: 2,
            type: Ge.FLOAT
          },
          {
            name: mt.MEASURE_END,
            size: 1,
            type: Ge.FLOAT
          },
          {
            name: mt.JOIN_ANGLES,
            size: 2,
            type: Ge.FLOAT
          },
          {
            name: mt.DISTANCE_LOW,
            size: 1,
            type: Ge.FLOAT
          },
          {
            name: mt.DISTANCE_HIGH,
            size: 1,
            type: Ge.FLOAT
          },
          {
            name: mt.ANGLE_TANGENT_SUM,
            size: 1,
            type: Ge.FLOAT
          },
          ...a
        ],
        instancePrimitiveVertexCount: 6
      }), r.builder.getSymbolVertexShader() && (o.symbolRenderPass = {
        vertexShader: r.builder.getSymbolVertexShader(),
        fragmentShader: r.builder.getSymbolFragmentShader(),
        attributesDesc: [
          {
            name: mt.LOCAL_POSITION,
            size: 2,
            type: Ge.FLOAT
          }
        ],
        instancedAttributesDesc: [
          {
            name: mt.POSITION,
            size: 2,
            type: Ge.FLOAT
          },
          ...a
        ],
        instancePrimitiveVertexCount: 6
      }), o;
    }), this.hasFill_ = this.renderPasses_.some((r) => r.fillRenderPass), this.hasStroke_ = this.renderPasses_.some((r) => r.strokeRenderPass), this.hasSymbol_ = this.renderPasses_.some((r) => r.symbolRenderPass), this.setHelper(n);
  }
  /**
   * @param {import('./MixedGeometryBatch.js').default} geometryBatch Geometry batch
   * @param {import("../../transform.js").Transform} transform Transform to apply to coordinates
   * @return {Promise<WebGLBuffers|null>} A promise resolving to WebGL buffers; returns null if buffers are empty
   */
  async generateBuffers(e, t) {
    if (e.isEmpty())
      return null;
    const n = this.generateRenderInstructions_(
      e,
      t
    ), [s, r, o] = await Promise.all(
      [
        this.generateBuffersForType_(
          n.polygonInstructions,
          "Polygon",
          t
        ),
        this.generateBuffersForType_(
          n.lineStringInstructions,
          "LineString",
          t
        ),
        this.generateBuffersForType_(
          n.pointInstructions,
          "Point",
          t
        )
      ]
    ), a = ds(
      we(),
      t
    );
    return {
      polygonBuffers: s,
      lineStringBuffers: r,
      pointBuffers: o,
      invertVerticesTransform: a
    };
  }
  /**
   * @param {import('./MixedGeometryBatch.js').default} geometryBatch Geometry batch
   * @param {import("../../transform.js").Transform} transform Transform to apply to coordinates
   * @return {RenderInstructions} Render instructions
   * @private
   */
  generateRenderInstructions_(e, t) {
    const n = this.hasFill_ ? ty(
      e.polygonBatch,
      new Float32Array(0),
      this.customAttributes_,
      t
    ) : null, s = this.hasStroke_ ? ey(
      e.lineStringBatch,
      new Float32Array(0),
      this.customAttributes_,
      t
    ) : null, r = this.hasSymbol_ ? Q0(
      e.pointBatch,
      new Float32Array(0),
      this.customAttributes_,
      t
    ) : null;
    return {
      polygonInstructions: n,
      lineStringInstructions: s,
      pointInstructions: r
    };
  }
  /**
   * @param {Float32Array|null} renderInstructions Render instructions
   * @param {import("../../geom/Geometry.js").Type} geometryType Geometry type
   * @param {import("../../transform.js").Transform} transform Transform to apply to coordinates
   * @return {Promise<WebGLArrayBufferSet>|null} Indices buffer and vertices buffer; null if nothing to render
   * @private
   */
  generateBuffersForType_(e, t, n) {
    if (e === null)
      return null;
    const s = my++;
    let r;
    switch (t) {
      case "Polygon":
        r = No.GENERATE_POLYGON_BUFFERS;
        break;
      case "LineString":
        r = No.GENERATE_LINE_STRING_BUFFERS;
        break;
      case "Point":
        r = No.GENERATE_POINT_BUFFERS;
        break;
    }
    const o = {
      id: s,
      type: r,
      renderInstructions: e.buffer,
      renderInstructionsTransform: n,
      customAttributesSize: Qr(this.customAttributes_)
    }, a = _y();
    return a.postMessage(o, [e.buffer]), e = null, new Promise((l) => {
      const c = (h) => {
        const u = h.data;
        if (u.id !== s || (a.removeEventListener("message", c), !this.helper_.getGL()))
          return;
        const d = new Oo(
          pl,
          Do
        ).fromArrayBuffer(u.indicesBuffer), f = new Oo(
          Ar,
          Do
        ).fromArrayBuffer(u.vertexAttributesBuffer), g = new Oo(
          Ar,
          Do
        ).fromArrayBuffer(u.instanceAttributesBuffer);
        this.helper_.flushBufferData(d), this.helper_.flushBufferData(f), this.helper_.flushBufferData(g), l([
          d,
          f,
          g
        ]);
      };
      a.addEventListener("message", c);
    });
  }
  /**
   * Render the geometries in the given buffers.
   * @param {WebGLBuffers} buffers WebGL Buffers to draw
   * @param {import("../../Map.js").FrameState} frameState Frame state
   * @param {function(): void} preRenderCallback This callback will be called right before drawing, and can be used to set uniforms
   */
  render(e, t, n) {
    for (const s of this.renderPasses_)
      s.fillRenderPass && this.renderInternal_(
        e.polygonBuffers[0],
        e.polygonBuffers[1],
        e.polygonBuffers[2],
        s.fillRenderPass,
        t,
        n
      ), s.strokeRenderPass && this.renderInternal_(
        e.lineStringBuffers[0],
        e.lineStringBuffers[1],
        e.lineStringBuffers[2],
        s.strokeRenderPass,
        t,
        n
      ), s.symbolRenderPass && this.renderInternal_(
        e.pointBuffers[0],
        e.pointBuffers[1],
        e.pointBuffers[2],
        s.symbolRenderPass,
        t,
        n
      );
  }
  /**
   * @param {WebGLArrayBuffer} indicesBuffer Indices buffer
   * @param {WebGLArrayBuffer} vertexAttributesBuffer Vertex attributes buffer
   * @param {WebGLArrayBuffer} instanceAttributesBuffer Instance attributes buffer
   * @param {SubRenderPass} subRenderPass Render pass (program, attributes, etc.) specific to one geometry type
   * @param {import("../../Map.js").FrameState} frameState Frame state.
   * @param {function(): void} preRenderCallback This callback will be called right before drawing, and can be used to set uniforms
   * @private
   */
  renderInternal_(e, t, n, s, r, o) {
    const a = e.getSize();
    if (a === 0)
      return;
    const l = s.instancedAttributesDesc.length;
    if (this.helper_.useProgram(s.program, r), this.helper_.bindBuffer(t), this.helper_.bindBuffer(e), this.helper_.enableAttributes(s.attributesDesc), this.helper_.bindBuffer(n), this.helper_.enableAttributesInstanced(
      s.instancedAttributesDesc
    ), o(), l) {
      const c = s.instancedAttributesDesc.reduce(
        (u, d) => u + (d.size || 1),
        0
      ), h = n.getSize() / c;
      this.helper_.drawElementsInstanced(0, a, h);
    } else
      this.helper_.drawElements(0, a);
  }
  /**
   * @param {import('../../webgl/Helper.js').default} helper Helper
   * @param {WebGLBuffers} buffers WebGL Buffers to reload if any
   */
  setHelper(e, t = null) {
    this.helper_ = e;
    for (const n of this.renderPasses_)
      n.fillRenderPass && (n.fillRenderPass.program = this.helper_.getProgram(
        n.fillRenderPass.fragmentShader,
        n.fillRenderPass.vertexShader
      )), n.strokeRenderPass && (n.strokeRenderPass.program = this.helper_.getProgram(
        n.strokeRenderPass.fragmentShader,
        n.strokeRenderPass.vertexShader
      )), n.symbolRenderPass && (n.symbolRenderPass.program = this.helper_.getProgram(
        n.symbolRenderPass.fragmentShader,
        n.symbolRenderPass.vertexShader
      ));
    this.helper_.addUniforms(this.uniforms_), t && (t.polygonBuffers && (this.helper_.flushBufferData(t.polygonBuffers[0]), this.helper_.flushBufferData(t.polygonBuffers[1]), this.helper_.flushBufferData(t.polygonBuffers[2])), t.lineStringBuffers && (this.helper_.flushBufferData(t.lineStringBuffers[0]), this.helper_.flushBufferData(t.lineStringBuffers[1]), this.helper_.flushBufferData(t.lineStringBuffers[2])), t.pointBuffers && (this.helper_.flushBufferData(t.pointBuffers[0]), this.helper_.flushBufferData(t.pointBuffers[1]), this.helper_.flushBufferData(t.pointBuffers[2])));
  }
}
function yy(i, e) {
  const t = Array.isArray(i) ? i : [i];
  if ("style" in t[0]) {
    const n = [], s = (
      /** @type {Array<FlatStyleRule>} */
      t
    ), r = [];
    for (const o of s) {
      const a = Array.isArray(o.style) ? o.style : [o.style];
      let l = o.filter;
      o.else && r.length && (l = [
        "all",
        ...r.map((h) => ["!", h])
      ], o.filter && l.push(o.filter), l.length < 3 && (l = l[1])), o.filter && r.push(o.filter);
      const c = a.map(
        (h) => qc(h, e, l)
      );
      n.push(...c);
    }
    return n;
  }
  return "builder" in t[0] ? (
    /** @type {Array<StyleShaders>} */
    t
  ) : (
    /** @type {Array<FlatStyle>} */
    t.map(
      (n) => qc(n, e, null)
    )
  );
}
const Mt = new Uint8Array(4);
class xy {
  /**
   * @param {import("./Helper.js").default} helper WebGL helper; mandatory.
   * @param {Array<number>} [size] Expected size of the render target texture; note: this can be changed later on.
   */
  constructor(e, t) {
    this.helper_ = e;
    const n = e.getGL();
    this.texture_ = n.createTexture(), this.framebuffer_ = n.createFramebuffer(), this.depthbuffer_ = n.createRenderbuffer(), this.size_ = t || [1, 1], this.data_ = new Uint8Array(0), this.dataCacheDirty_ = !0, this.updateSize_();
  }
  /**
   * Changes the size of the render target texture. Note: will do nothing if the size
   * is already the same.
   * @param {Array<number>} size Expected size of the render target texture
   */
  setSize(e) {
    $t(e, this.size_) || (this.size_[0] = e[0], this.size_[1] = e[1], this.updateSize_());
  }
  /**
   * Returns the size of the render target texture
   * @return {Array<number>} Size of the render target texture
   */
  getSize() {
    return this.size_;
  }
  /**
   * This will cause following calls to `#readAll` or `#readPixel` to download the content of the
   * render target into memory, which is an expensive operation.
   * This content will be kept in cache but should be cleared after each new render.
   */
  clearCachedData() {
    this.dataCacheDirty_ = !0;
  }
  /**
   * Returns the full content of the frame buffer as a series of r, g, b, a components
   * in the 0-255 range (unsigned byte).
   * @return {Uint8Array} Integer array of color values
   */
  readAll() {
    if (this.dataCacheDirty_) {
      const e = this.size_, t = this.helper_.getGL();
      t.bindFramebuffer(t.FRAMEBUFFER, this.framebuffer_), t.readPixels(
        0,
        0,
        e[0],
        e[1],
        t.RGBA,
        t.UNSIGNED_BYTE,
        this.data_
      ), this.dataCacheDirty_ = !1;
    }
    return this.data_;
  }
  /**
   * Reads one pixel of the frame buffer as an array of r, g, b, a components
   * in the 0-255 range (unsigned byte).
   * If x and/or y are outside of existing data, an array filled with 0 is returned.
   * @param {number} x Pixel coordinate
   * @param {number} y Pixel coordinate
   * @return {Uint8Array} Integer array with one color value (4 components)
   */
  readPixel(e, t) {
    if (e < 0 || t < 0 || e > this.size_[0] || t >= this.size_[1])
      return Mt[0] = 0, Mt[1] = 0, Mt[2] = 0, Mt[3] = 0, Mt;
    this.readAll();
    const n = Math.floor(e) + (this.size_[1] - Math.floor(t) - 1) * this.size_[0];
    return Mt[0] = this.data_[n * 4], Mt[1] = this.data_[n * 4 + 1], Mt[2] = this.data_[n * 4 + 2], Mt[3] = this.data_[n * 4 + 3], Mt;
  }
  /**
   * @return {WebGLTexture} Texture to render to
   */
  getTexture() {
    return this.texture_;
  }
  /**
   * @return {WebGLFramebuffer} Frame buffer of the render target
   */
  getFramebuffer() {
    return this.framebuffer_;
  }
  /**
   * @return {WebGLRenderbuffer} Depth buffer of the render target
   */
  getDepthbuffer() {
    return this.depthbuffer_;
  }
  /**
   * @private
   */
  updateSize_() {
    const e = this.size_, t = this.helper_.getGL();
    this.texture_ = this.helper_.createTexture(e, null, this.texture_), t.bindFramebuffer(t.FRAMEBUFFER, this.framebuffer_), t.viewport(0, 0, e[0], e[1]), t.framebufferTexture2D(
      t.FRAMEBUFFER,
      t.COLOR_ATTACHMENT0,
      t.TEXTURE_2D,
      this.texture_,
      0
    ), t.bindRenderbuffer(t.RENDERBUFFER, this.depthbuffer_), t.renderbufferStorage(
      t.RENDERBUFFER,
      t.DEPTH_COMPONENT16,
      e[0],
      e[1]
    ), t.framebufferRenderbuffer(
      t.FRAMEBUFFER,
      t.DEPTH_ATTACHMENT,
      t.RENDERBUFFER,
      this.depthbuffer_
    ), this.data_ = new Uint8Array(e[0] * e[1] * 4);
  }
}
function Ey(i, e) {
  const t = i.viewState.projection, s = e.getSource().getWrapX() && t.canWrapX(), r = t.getExtent(), o = i.extent, a = s ? ae(r) : null, l = s ? Math.ceil((o[2] - r[2]) / a) + 1 : 1;
  return [s ? Math.floor((o[0] - r[0]) / a) : 0, l, a];
}
const ci = {
  ...Kt,
  RENDER_EXTENT: "u_renderExtent",
  // intersection of layer, source, and view extent
  PATTERN_ORIGIN: "u_patternOrigin",
  GLOBAL_ALPHA: "u_globalAlpha"
};
class vy extends yl {
  /**
   * @param {import("../../layer/Layer.js").default} layer Layer.
   * @param {Options} options Options.
   */
  constructor(e, t) {
    const n = {
      [ci.RENDER_EXTENT]: [0, 0, 0, 0],
      [ci.PATTERN_ORIGIN]: [0, 0],
      [ci.GLOBAL_ALPHA]: 1
    };
    super(e, {
      uniforms: n,
      postProcesses: t.postProcesses
    }), this.hitDetectionEnabled_ = !t.disableHitDetection, this.hitRenderTarget_, this.sourceRevision_ = -1, this.previousExtent_ = ut(), this.currentTransform_ = we(), this.tmpCoords_ = [0, 0], this.tmpTransform_ = we(), this.tmpMat4_ = Nu(), this.currentFrameStateTransform_ = we(), this.styleVariables_ = {}, this.style_ = [], this.styleRenderer_ = null, this.buffers_ = null, this.applyOptions_(t), this.batch_ = new Ir(), this.initialFeaturesAdded_ = !1, this.sourceListenKeys_ = null;
  }
  /**
   * @private
   * @param {import("../../Map.js").FrameState} frameState Frame state.
   */
  addInitialFeatures_(e) {
    const t = this.getLayer().getSource();
    let n;
    this.batch_.addFeatures(t.getFeatures(), n), this.sourceListenKeys_ = [
      ne(
        t,
        be.ADDFEATURE,
        this.handleSourceFeatureAdded_.bind(this, n)
      ),
      ne(
        t,
        be.CHANGEFEATURE,
        this.handleSourceFeatureChanged_.bind(this, n),
        this
      ),
      ne(
        t,
        be.REMOVEFEATURE,
        this.handleSourceFeatureDelete_,
        this
      ),
      ne(
        t,
        be.CLEAR,
        this.handleSourceFeatureClear_,
        this
      )
    ];
  }
  /**
   * @param {Options} options Options.
   * @private
   */
  applyOptions_(e) {
    this.styleVariables_ = e.variables, this.style_ = e.style;
  }
  /**
   * @private
   */
  createRenderers_() {
    this.buffers_ = null, this.styleRenderer_ = new py(
      this.style_,
      this.styleVariables_,
      this.helper,
      this.hitDetectionEnabled_
    );
  }
  /**
   * @override
   */
  reset(e) {
    this.applyOptions_(e), this.helper && this.createRenderers_(), super.reset(e);
  }
  /**
   * @override
   */
  afterHelperCreated() {
    this.styleRenderer_ ? this.styleRenderer_.setHelper(this.helper, this.buffers_) : this.createRenderers_(), this.hitDetectionEnabled_ && (this.hitRenderTarget_ = new xy(this.helper));
  }
  /**
   * @param {import("../../proj.js").TransformFunction} projectionTransform Transform function.
   * @param {import("../../source/Vector.js").VectorSourceEvent} event Event.
   * @private
   */
  handleSourceFeatureAdded_(e, t) {
    const n = t.feature;
    this.batch_.addFeature(n, e);
  }
  /**
   * @param {import("../../proj.js").TransformFunction} projectionTransform Transform function.
   * @param {import("../../source/Vector.js").VectorSourceEvent} event Event.
   * @private
   */
  handleSourceFeatureChanged_(e, t) {
    const n = t.feature;
    this.batch_.changeFeature(n, e);
  }
  /**
   * @param {import("../../source/Vector.js").VectorSourceEvent} event Event.
   * @private
   */
  handleSourceFeatureDelete_(e) {
    const t = e.feature;
    this.batch_.removeFeature(t);
  }
  /**
   * @private
   */
  handleSourceFeatureClear_() {
    this.batch_.clear();
  }
  /**
   * @param {import("../../transform.js").Transform} batchInvertTransform Inverse of the transformation in which geometries are expressed
   * @private
   */
  applyUniforms_(e) {
    Ch(this.tmpTransform_, this.currentFrameStateTransform_), vh(this.tmpTransform_, e), this.helper.setUniformMatrixValue(
      ci.PROJECTION_MATRIX,
      ga(this.tmpMat4_, this.tmpTransform_)
    ), ds(this.tmpTransform_, this.tmpTransform_), this.helper.setUniformMatrixValue(
      ci.SCREEN_TO_WORLD_MATRIX,
      ga(this.tmpMat4_, this.tmpTransform_)
    ), this.tmpCoords_[0] = 0, this.tmpCoords_[1] = 0, ds(this.tmpTransform_, e), xe(this.tmpTransform_, this.tmpCoords_), this.helper.setUniformFloatVec2(ci.PATTERN_ORIGIN, this.tmpCoords_);
  }
  /**
   * Render the layer.
   * @param {import("../../Map.js").FrameState} frameState Frame state.
   * @return {HTMLElement} The rendered element.
   * @override
   */
  renderFrame(e) {
    const t = this.helper.getGL();
    this.preRender(t, e);
    const [n, s, r] = Ey(
      e,
      this.getLayer()
    );
    this.helper.prepareDraw(e), this.renderWorlds(e, !1, n, s, r), this.helper.finalizeDraw(
      e,
      this.dispatchPreComposeEvent,
      this.dispatchPostComposeEvent
    );
    const o = this.helper.getCanvas();
    return this.hitDetectionEnabled_ && (this.renderWorlds(e, !0, n, s, r), this.hitRenderTarget_.clearCachedData()), this.postRender(t, e), o;
  }
  /**
   * Determine whether renderFrame should be called.
   * @param {import("../../Map.js").FrameState} frameState Frame state.
   * @return {boolean} Layer is ready to be rendered.
   * @override
   */
  prepareFrameInternal(e) {
    this.initialFeaturesAdded_ || (this.addInitialFeatures_(e), this.initialFeaturesAdded_ = !0);
    const t = this.getLayer(), n = t.getSource(), s = e.viewState, r = !e.viewHints[De.ANIMATING] && !e.viewHints[De.INTERACTING], o = !Ri(this.previousExtent_, e.extent), a = this.sourceRevision_ < n.getRevision();
    if (a && (this.sourceRevision_ = n.getRevision()), r && (o || a)) {
      const l = s.projection, c = s.resolution, h = t instanceof il ? t.getRenderBuffer() : 0, u = Ps(e.extent, h * c);
      n.loadFeatures(u, c, l), this.ready = !1;
      const d = this.helper.makeProjectionTransform(
        e,
        we()
      );
      this.styleRenderer_.generateBuffers(this.batch_, d).then((f) => {
        this.buffers_ && this.disposeBuffers(this.buffers_), this.buffers_ = f, this.ready = !0, this.getLayer().changed();
      }), this.previousExtent_ = e.extent.slice();
    }
    return !0;
  }
  /**
   * Render the world, either to the main framebuffer or to the hit framebuffer
   * @param {import("../../Map.js").FrameState} frameState current frame state
   * @param {boolean} forHitDetection whether the rendering is for hit detection
   * @param {number} startWorld the world to render in the first iteration
   * @param {number} endWorld the last world to render
   * @param {number} worldWidth the width of the worlds being rendered
   */
  renderWorlds(e, t, n, s, r) {
    let o = n;
    t && (this.hitRenderTarget_.setSize([
      Math.floor(e.size[0] / 2),
      Math.floor(e.size[1] / 2)
    ]), this.helper.prepareDrawToRenderTarget(
      e,
      this.hitRenderTarget_,
      !0
    ));
    do
      this.helper.makeProjectionTransform(
        e,
        this.currentFrameStateTransform_
      ), Nf(
        this.currentFrameStateTransform_,
        o * r,
        0
      ), this.buffers_ && this.styleRenderer_.render(this.buffers_, e, () => {
        this.applyUniforms_(this.buffers_.invertVerticesTransform), this.helper.applyHitDetectionUniform(t);
      });
    while (++o < s);
  }
  /**
   * @param {import("../../coordinate.js").Coordinate} coordinate Coordinate.
   * @param {import("../../Map.js").FrameState} frameState Frame state.
   * @param {number} hitTolerance Hit tolerance in pixels.
   * @param {import("../vector.js").FeatureCallback<T>} callback Feature callback.
   * @param {Array<import("../Map.js").HitMatch<T>>} matches The hit detected matches with tolerance.
   * @return {T|undefined} Callback result.
   * @template T
   * @override
   */
  forEachFeatureAtCoordinate(e, t, n, s, r) {
    if (ie(
      this.hitDetectionEnabled_,
      "`forEachFeatureAtCoordinate` cannot be used on a WebGL layer if the hit detection logic has been disabled using the `disableHitDetection: true` option."
    ), !this.styleRenderer_ || !this.hitDetectionEnabled_)
      return;
    const o = xe(
      t.coordinateToPixelTransform,
      e.slice()
    ), a = this.hitRenderTarget_.readPixel(o[0] / 2, o[1] / 2), l = [a[0] / 255, a[1] / 255, a[2] / 255, a[3] / 255], c = L0(l), h = this.batch_.getFeatureFromRef(c);
    if (h)
      return s(h, this.getLayer(), null);
  }
  /**
   * Will release a set of Webgl buffers
   * @param {import('../../render/webgl/VectorStyleRenderer.js').WebGLBuffers} buffers Buffers
   */
  disposeBuffers(e) {
    const t = (n) => {
      for (const s of n)
        s && this.helper.deleteBuffer(s);
    };
    e.pointBuffers && t(e.pointBuffers), e.lineStringBuffers && t(e.lineStringBuffers), e.polygonBuffers && t(e.polygonBuffers);
  }
  /**
   * Clean up.
   * @override
   */
  disposeInternal() {
    this.buffers_ && this.disposeBuffers(this.buffers_), this.sourceListenKeys_ && (this.sourceListenKeys_.forEach(function(e) {
      ce(e);
    }), this.sourceListenKeys_ = null), super.disposeInternal();
  }
  renderDeclutter() {
  }
}
class ya extends Gs {
  /**
   * @param {Options<VectorSourceType, FeatureType>} [options] Options.
   */
  constructor(e) {
    const t = Object.assign({}, e);
    super(t), this.styleVariables_ = e.variables || {}, this.style_ = e.style, this.hitDetectionDisabled_ = !!e.disableHitDetection;
  }
  /**
   * @override
   */
  createRenderer() {
    return new vy(this, {
      style: this.style_,
      variables: this.styleVariables_,
      disableHitDetection: this.hitDetectionDisabled_
    });
  }
  /**
   * Update any variables used by the layer style and trigger a re-render.
   * @param {import('../style/flat.js').StyleVariables} variables Variables to update.
   */
  updateStyleVariables(e) {
    Object.assign(this.styleVariables_, e), this.changed();
  }
  /**
   * Set the layer style.
   * @param {import('../style/flat.js').FlatStyleLike} style Layer style.
   */
  setStyle(e) {
    this.style_ = e, this.clearRenderer(), this.changed();
  }
}
const cr = 20, Jc = 15;
function Cy(i, e, t) {
  const n = lt(), s = lt(), r = lt(), o = lt(), a = lt([]), l = (R) => i.getFeaturesAtPixel(R, {
    layerFilter: (A) => A instanceof Hr,
    hitTolerance: Jc
  }), c = (R, A) => {
    "IntersectionObserver" in window && (n.value = new IntersectionObserver(
      ([b]) => {
        b?.isIntersecting || A();
      },
      { root: null, threshold: 0 }
    ), n.value.observe(R));
  }, h = () => {
    _(!1), E(), P(), w();
  }, u = (R) => i.getTargetElement().style.cursor = R, d = (R) => {
    if (R.dragging || !i)
      return;
    const A = i.hasFeatureAtPixel(R.pixel, {
      layerFilter: (b) => b instanceof ya
    });
    u(A ? "pointer" : "default");
  }, f = (R, A) => {
    const b = i.getFeaturesAtPixel(R.pixel, {
      layerFilter: (O) => O instanceof ya
    }), D = b?.length ? b[0] : void 0;
    A && A(D);
  }, g = (R, A) => A != null ? R.get(Qt) !== A : !!!R.get(Rs), m = (R, A) => {
    const b = l(R.pixel), D = b?.find((ee) => {
      const I = ee.getGeometry();
      return I instanceof rt || I instanceof Ve;
    });
    if (!D) {
      A?.(void 0, void 0);
      return;
    }
    const O = b.find((ee) => ee.getGeometry() instanceof Je), K = Ft(D.getGeometry()).length === 1 ? 0 : Op(D, O);
    g(D, K) ? A?.(D, K) : A?.(void 0, void 0);
  }, _ = (R, A) => {
    if (!A)
      return;
    const b = (D) => {
      if (e.canLoadMultiFeatures) {
        f(D, A);
        return;
      }
      if (e.canSelectFeatureOrVertex) {
        m(D, A);
        return;
      }
    };
    i.un("click", b), i.un("pointermove", d), R && (i.on("click", b), i.on("pointermove", d));
  }, p = (R, A, b) => t === ve.SHAPE ? Dp(A, R, b, cr) : t === ve.TRACE ? Mp(A, R, b, cr) : new st({ geometry: new Je(R) }), x = (R) => R.preventDefault(), v = (R, A) => {
    if (s.value)
      return;
    const b = (D) => {
      if (D.dragging)
        return;
      const O = D.coordinate, j = i.getView().getResolution() ?? 1, ee = l(D.pixel).find((Ce) => R.hasFeature(Ce));
      if (ee && (bp(ee, O, j, cr) || !Lp(ee, O, j, cr)))
        return;
      const I = R.getFeatures()?.[0];
      M(I ?? null);
      const ye = p(O, j, I);
      t === ve.POINT && !R.isEmpty() && R.clear(!0), R.isEmpty() && R.addFeature(ye), A(ye);
    };
    s.value = b, i.on("click", b), i.getViewport().addEventListener("contextmenu", x);
  }, E = () => {
    s.value && (i.un("click", s.value), s.value = void 0, u("default"));
  }, y = (R, A) => {
    u("default");
    const b = R.getArray()?.[0];
    b && A(b);
  }, T = (R, A) => {
    r.value || (r.value = new g0({ layers: [R] }), r.value.on("translating", () => u("grab")), r.value.on("translateend", (b) => y(b.features, A)), i.addInteraction(r.value));
  }, S = (R, A) => {
    o.value || (o.value = new u0({
      source: R,
      style: xp(),
      pixelTolerance: Jc,
      insertVertexCondition: (b) => b.type === "pointermove",
      wrapX: !1
    }), o.value.on("modifystart", () => {
      u("grab"), M(R.getFeatures()?.[0] ?? null);
    }), o.value.on("modifyend", (b) => y(b.features, A)), i.addInteraction(o.value));
  }, w = () => {
    o.value && (i.removeInteraction(o.value), o.value = void 0);
  }, P = () => {
    r.value && (i.removeInteraction(r.value), r.value = void 0);
  }, M = (R) => {
    if (!e.canUndoLastChange)
      return;
    const A = R?.clone() ?? null;
    A && (A.unset(Qt), A.unset(Rs)), a.value = [...a.value, A];
  };
  return {
    hasUndoHistory: () => a.value.length > 0,
    popUndoState: () => {
      if (!a.value.length)
        return;
      const R = [...a.value], A = R.pop();
      return a.value = R, A;
    },
    removeMapInteractions: h,
    pushUndoState: M,
    setupFeatureDrag: T,
    setupTapToAddVertex: v,
    setupMapVisibilityObserver: c,
    setupVertexDrag: S,
    teardownMap: () => {
      n.value?.disconnect(), n.value = void 0, a.value = [], h(), i.getViewport().removeEventListener("contextmenu", x);
    },
    toggleSelectEvent: _
  };
}
function Wo(i, e, t) {
  if (!(t in i))
    return i[t] = /* @__PURE__ */ new Set([e]), !0;
  const n = i[t], s = n.has(e);
  return s || n.add(e), !s;
}
function Ty(i, e, t) {
  const n = i[t];
  return n ? n.delete(e) : !1;
}
function Qc(i, e) {
  const t = i.layerStatesArray[i.layerIndex];
  t.extent && (e = Nn(
    e,
    en(t.extent, i.viewState.projection)
  ));
  const n = (
    /** @type {import("../../source/Tile.js").default} */
    t.layer.getRenderSource()
  );
  if (!n.getWrapX()) {
    const s = n.getTileGridForProjection(i.viewState.projection).getExtent();
    s && (e = Nn(e, s));
  }
  return e;
}
class Sy extends iu {
  /**
   * @param {LayerType} tileLayer Tile layer.
   * @param {Options} [options] Options.
   */
  constructor(e, t) {
    super(e), t = t || {}, this.extentChanged = !0, this.renderComplete = !1, this.renderedExtent_ = null, this.renderedPixelRatio, this.renderedProjection = null, this.renderedTiles = [], this.renderedSourceKey_, this.renderedSourceRevision_, this.tempExtent = ut(), this.tempTileRange_ = new ll(0, 0, 0, 0), this.tempTileCoord_ = br(0, 0, 0);
    const n = t.cacheSize !== void 0 ? t.cacheSize : 512;
    this.tileCache_ = new Kc(n), this.sourceTileCache_ = null, this.maxStaleKeys = n * 0.5;
  }
  /**
   * @return {LRUCache} Tile cache.
   */
  getTileCache() {
    return this.tileCache_;
  }
  /**
   * @return {LRUCache} Tile cache.
   */
  getSourceTileCache() {
    return this.sourceTileCache_ || (this.sourceTileCache_ = new Kc(512)), this.sourceTileCache_;
  }
  /**
   * Get a tile from the cache or create one if needed.
   *
   * @param {number} z Tile coordinate z.
   * @param {number} x Tile coordinate x.
   * @param {number} y Tile coordinate y.
   * @param {import("../../Map.js").FrameState} frameState Frame state.
   * @return {import("../../Tile.js").default|null} Tile (or null if outside source extent).
   * @protected
   */
  getOrCreateTile(e, t, n, s) {
    const r = this.tileCache_, a = this.getLayer().getSource(), l = dr(a, a.getKey(), e, t, n);
    let c;
    if (r.containsKey(l))
      c = r.get(l);
    else {
      const h = s.viewState.projection, u = a.getProjection();
      if (c = a.getTile(
        e,
        t,
        n,
        s.pixelRatio,
        h,
        !u || ts(u, h) ? void 0 : this.getSourceTileCache()
      ), !c)
        return null;
      r.set(l, c);
    }
    return c;
  }
  /**
   * @param {number} z Tile coordinate z.
   * @param {number} x Tile coordinate x.
   * @param {number} y Tile coordinate y.
   * @param {import("../../Map.js").FrameState} frameState Frame state.
   * @return {import("../../Tile.js").default|null} Tile (or null if outside source extent).
   * @protected
   */
  getTile(e, t, n, s) {
    const r = this.getOrCreateTile(e, t, n, s);
    return r || null;
  }
  /**
   * @param {import("../../pixel.js").Pixel} pixel Pixel.
   * @return {Uint8ClampedArray} Data at the pixel location.
   * @override
   */
  getData(e) {
    const t = this.frameState;
    if (!t)
      return null;
    const n = this.getLayer(), s = xe(
      t.pixelToCoordinateTransform,
      e.slice()
    ), r = n.getExtent();
    if (r && !Si(r, s))
      return null;
    const o = t.viewState, a = n.getRenderSource(), l = a.getTileGridForProjection(o.projection), c = a.getTilePixelRatio(t.pixelRatio);
    for (let h = l.getZForResolution(o.resolution); h >= l.getMinZoom(); --h) {
      const u = l.getTileCoordForCoordAndZ(s, h), d = this.getTile(h, u[1], u[2], t);
      if (!d || d.getState() !== W.LOADED)
        continue;
      const f = l.getOrigin(h), g = qe(l.getTileSize(h)), m = l.getResolution(h);
      let _;
      if (d instanceof du || d instanceof Gu)
        _ = d.getImage();
      else if (d instanceof Xc) {
        if (_ = _a(d.getData()), !_)
          continue;
      } else
        continue;
      const p = Math.floor(
        c * ((s[0] - f[0]) / m - u[1] * g[0])
      ), x = Math.floor(
        c * ((f[1] - s[1]) / m - u[2] * g[1])
      ), v = Math.round(
        c * a.getGutterForProjection(o.projection)
      );
      return this.getImageData(_, p + v, x + v);
    }
    return null;
  }
  /**
   * Determine whether render should be called.
   * @param {import("../../Map.js").FrameState} frameState Frame state.
   * @return {boolean} Layer is ready to be rendered.
   * @override
   */
  prepareFrame(e) {
    this.renderedProjection ? e.viewState.projection !== this.renderedProjection && (this.tileCache_.clear(), this.renderedProjection = e.viewState.projection) : this.renderedProjection = e.viewState.projection;
    const t = this.getLayer().getSource();
    if (!t)
      return !1;
    const n = t.getRevision();
    return this.renderedSourceRevision_ ? this.renderedSourceRevision_ !== n && (this.renderedSourceRevision_ = n, this.renderedSourceKey_ === t.getKey() && (this.tileCache_.clear(), this.sourceTileCache_?.clear())) : this.renderedSourceRevision_ = n, !0;
  }
  /**
   * Determine whether tiles for next extent should be enqueued for rendering.
   * @return {boolean} Rendering tiles for next extent is supported.
   * @protected
   */
  enqueueTilesForNextExtent() {
    return !0;
  }
  /**
   * @param {import("../../Map.js").FrameState} frameState Frame state.
   * @param {import("../../extent.js").Extent} extent The extent to be rendered.
   * @param {number} initialZ The zoom level.
   * @param {TileLookup} tilesByZ Lookup of tiles by zoom level.
   * @param {number} preload Number of additional levels to load.
   */
  enqueueTiles(e, t, n, s, r) {
    const o = e.viewState, a = this.getLayer(), l = a.getRenderSource(), c = l.getTileGridForProjection(o.projection), h = z(l);
    h in e.wantedTiles || (e.wantedTiles[h] = {});
    const u = e.wantedTiles[h], d = a.getMapInternal(), f = Math.max(
      n - r,
      c.getMinZoom(),
      c.getZForResolution(
        Math.min(
          a.getMaxResolution(),
          d ? d.getView().getResolutionForZoom(Math.max(a.getMinZoom(), 0)) : c.getResolution(0)
        ),
        l.zDirection
      )
    ), g = o.rotation, m = g ? hh(
      o.center,
      o.resolution,
      g,
      e.size
    ) : void 0;
    for (let _ = n; _ >= f; --_) {
      const p = c.getTileRangeForExtentAndZ(
        t,
        _,
        this.tempTileRange_
      ), x = c.getResolution(_);
      for (let v = p.minX; v <= p.maxX; ++v)
        for (let E = p.minY; E <= p.maxY; ++E) {
          if (g && !c.tileCoordIntersectsViewport([_, v, E], m))
            continue;
          const y = this.getTile(_, v, E, e);
          if (!y || !Wo(s, y, _))
            continue;
          const S = y.getKey();
          if (u[S] = !0, y.getState() === W.IDLE && !e.tileQueue.isKeyQueued(S)) {
            const w = br(_, v, E, this.tempTileCoord_);
            e.tileQueue.enqueue([
              y,
              h,
              c.getTileCoordCenter(w),
              x
            ]);
          }
        }
    }
  }
  /**
   * Look for tiles covering the provided tile coordinate at an alternate
   * zoom level.  Loaded tiles will be added to the provided tile texture lookup.
   * @param {import("../../tilecoord.js").TileCoord} tileCoord The target tile coordinate.
   * @param {TileLookup} tilesByZ Lookup of tiles by zoom level.
   * @return {boolean} The tile coordinate is covered by loaded tiles at the alternate zoom level.
   * @private
   */
  findStaleTile_(e, t) {
    const n = this.tileCache_, s = e[0], r = e[1], o = e[2], a = this.getStaleKeys();
    for (let l = 0; l < a.length; ++l) {
      const c = dr(
        this.getLayer().getSource(),
        a[l],
        s,
        r,
        o
      );
      if (n.containsKey(c)) {
        const h = n.peek(c);
        if (h.getState() === W.LOADED)
          return h.endTransition(z(this)), Wo(t, h, s), !0;
      }
    }
    return !1;
  }
  /**
   * Look for tiles covering the provided tile coordinate at an alternate
   * zoom level.  Loaded tiles will be added to the provided tile texture lookup.
   * @param {import("../../tilegrid/TileGrid.js").default} tileGrid The tile grid.
   * @param {import("../../tilecoord.js").TileCoord} tileCoord The target tile coordinate.
   * @param {number} altZ The alternate zoom level.
   * @param {TileLookup} tilesByZ Lookup of tiles by zoom level.
   * @return {boolean} The tile coordinate is covered by loaded tiles at the alternate zoom level.
   * @private
   */
  findAltTiles_(e, t, n, s) {
    const r = e.getTileRangeForTileCoordAndZ(
      t,
      n,
      this.tempTileRange_
    );
    if (!r)
      return !1;
    let o = !0;
    const a = this.tileCache_, l = this.getLayer().getRenderSource(), c = l.getKey();
    for (let h = r.minX; h <= r.maxX; ++h)
      for (let u = r.minY; u <= r.maxY; ++u) {
        const d = dr(l, c, n, h, u);
        let f = !1;
        if (a.containsKey(d)) {
          const g = a.peek(d);
          g.getState() === W.LOADED && (Wo(s, g, n), f = !0);
        }
        f || (o = !1);
      }
    return o;
  }
  /**
   * Render the layer.
   *
   * The frame rendering logic has three parts:
   *
   *  1. Enqueue tiles
   *  2. Find alt tiles for those that are not yet loaded
   *  3. Render loaded tiles
   *
   * @param {import("../../Map.js").FrameState} frameState Frame state.
   * @param {HTMLElement} target Target that may be used to render content to.
   * @return {HTMLElement} The rendered element.
   * @override
   */
  renderFrame(e, t) {
    this.renderComplete = !0;
    const n = e.layerStatesArray[e.layerIndex], s = e.viewState, r = s.projection, o = s.resolution, a = s.center, l = e.pixelRatio, c = this.getLayer(), h = c.getSource(), u = h.getTileGridForProjection(r), d = u.getZForResolution(o, h.zDirection), f = u.getResolution(d), g = h.getKey();
    this.renderedSourceKey_ ? this.renderedSourceKey_ !== g && (this.prependStaleKey(this.renderedSourceKey_), this.renderedSourceKey_ = g) : this.renderedSourceKey_ = g;
    let m = e.extent;
    const _ = h.getTilePixelRatio(l);
    this.prepareContainer(e, t);
    const p = this.context.canvas.width, x = this.context.canvas.height, v = n.extent && en(n.extent);
    v && (m = Nn(
      m,
      en(n.extent)
    ));
    const E = f * p / 2 / _, y = f * x / 2 / _, T = [
      a[0] - E,
      a[1] - y,
      a[0] + E,
      a[1] + y
    ], S = {};
    this.renderedTiles.length = 0;
    const w = c.getPreload();
    if (e.nextExtent && this.enqueueTilesForNextExtent()) {
      const O = u.getZForResolution(
        s.nextResolution,
        h.zDirection
      ), j = Qc(e, e.nextExtent);
      this.enqueueTiles(e, j, O, S, w);
    }
    const P = Qc(e, m);
    if (this.enqueueTiles(e, P, d, S, 0), w > 0 && setTimeout(() => {
      this.enqueueTiles(
        e,
        P,
        d - 1,
        S,
        w - 1
      );
    }, 0), !(d in S))
      return this.container;
    const M = z(this), U = e.time;
    for (const O of S[d]) {
      const j = O.getState();
      if (j === W.EMPTY)
        continue;
      const K = O.tileCoord;
      if (j === W.LOADED && O.getAlpha(M, U) === 1) {
        O.endTransition(M);
        continue;
      }
      if (j !== W.ERROR && (this.renderComplete = !1), this.findStaleTile_(K, S)) {
        Ty(S, O, d), e.animate = !0;
        continue;
      }
      if (this.findAltTiles_(
        u,
        K,
        d + 1,
        S
      ))
        continue;
      const ye = u.getMinZoom();
      for (let Ce = d - 1; Ce >= ye && !this.findAltTiles_(
        u,
        K,
        Ce,
        S
      ); --Ce)
        ;
    }
    const k = f / o * l / _, F = this.getRenderContext(e);
    wt(
      this.tempTransform,
      p / 2,
      x / 2,
      k,
      k,
      0,
      -p / 2,
      -x / 2
    ), n.extent && this.clipUnrotated(F, e, v), h.getInterpolate() || (F.imageSmoothingEnabled = !1), this.preRender(F, e);
    const R = Object.keys(S).map(Number);
    R.sort(nn);
    let A;
    const b = [], D = [];
    for (let O = R.length - 1; O >= 0; --O) {
      const j = R[O], K = h.getTilePixelSize(
        j,
        l,
        r
      ), I = u.getResolution(j) / f, ye = K[0] * I * k, Ce = K[1] * I * k, fe = u.getTileCoordForCoordAndZ(
        Xn(T),
        j
      ), Ie = u.getTileCoordExtent(fe), Ae = xe(this.tempTransform, [
        _ * (Ie[0] - T[0]) / f,
        _ * (T[3] - Ie[3]) / f
      ]), L = _ * h.getGutterForProjection(r);
      for (const G of S[j]) {
        if (G.getState() !== W.LOADED)
          continue;
        const J = G.tileCoord, Xe = fe[1] - J[1], eo = Math.round(Ae[0] - (Xe - 1) * ye), Oi = fe[2] - J[2], Sn = Math.round(Ae[1] - (Oi - 1) * Ce), dt = Math.round(Ae[0] - Xe * ye), bt = Math.round(Ae[1] - Oi * Ce), Hn = eo - dt, qn = Sn - bt, Ni = R.length === 1;
        let Rn = !1;
        A = [dt, bt, dt + Hn, bt, dt + Hn, bt + qn, dt, bt + qn];
        for (let Jn = 0, Qn = b.length; Jn < Qn; ++Jn)
          if (!Ni && j < D[Jn]) {
            const Fe = b[Jn];
            Ke(
              [dt, bt, dt + Hn, bt + qn],
              [Fe[0], Fe[3], Fe[4], Fe[7]]
            ) && (Rn || (F.save(), Rn = !0), F.beginPath(), F.moveTo(A[0], A[1]), F.lineTo(A[2], A[3]), F.lineTo(A[4], A[5]), F.lineTo(A[6], A[7]), F.moveTo(Fe[6], Fe[7]), F.lineTo(Fe[4], Fe[5]), F.lineTo(Fe[2], Fe[3]), F.lineTo(Fe[0], Fe[1]), F.clip());
          }
        b.push(A), D.push(j), this.drawTile(G, e, dt, bt, Hn, qn, L, Ni), Rn && F.restore(), this.renderedTiles.unshift(G), this.updateUsedTiles(e.usedTiles, h, G);
      }
    }
    if (this.renderedResolution = f, this.extentChanged = !this.renderedExtent_ || !Ri(this.renderedExtent_, T), this.renderedExtent_ = T, this.renderedPixelRatio = l, this.postRender(this.context, e), n.extent && F.restore(), F.imageSmoothingEnabled = !0, this.renderComplete) {
      const O = (j, K) => {
        const ee = z(h), I = K.wantedTiles[ee], ye = I ? Object.keys(I).length : 0;
        this.updateCacheSize(ye), this.tileCache_.expireCache(), this.sourceTileCache_?.expireCache();
      };
      e.postRenderFunctions.push(O);
    }
    return this.container;
  }
  /**
   * Increases the cache size if needed
   * @param {number} tileCount Minimum number of tiles needed.
   */
  updateCacheSize(e) {
    this.tileCache_.highWaterMark = Math.max(
      this.tileCache_.highWaterMark,
      e * 2
    );
  }
  /**
   * @param {import("../../Tile.js").default} tile Tile.
   * @param {import("../../Map.js").FrameState} frameState Frame state.
   * @param {number} x Left of the tile.
   * @param {number} y Top of the tile.
   * @param {number} w Width of the tile.
   * @param {number} h Height of the tile.
   * @param {number} gutter Tile gutter.
   * @param {boolean} transition Apply an alpha transition.
   * @protected
   */
  drawTile(e, t, n, s, r, o, a, l) {
    let c;
    if (e instanceof Xc) {
      if (c = _a(e.getData()), !c)
        throw new Error("Rendering array data is not yet supported");
    } else
      c = this.getTileImage(
        /** @type {import("../../ImageTile.js").default} */
        e
      );
    if (!c)
      return;
    const h = this.getRenderContext(t), u = z(this), d = t.layerStatesArray[t.layerIndex], f = d.opacity * (l ? e.getAlpha(u, t.time) : 1), g = f !== h.globalAlpha;
    g && (h.save(), h.globalAlpha = f), h.drawImage(
      c,
      a,
      a,
      c.width - 2 * a,
      c.height - 2 * a,
      n,
      s,
      r,
      o
    ), g && h.restore(), f !== d.opacity ? t.animate = !0 : l && e.endTransition(u);
  }
  /**
   * @return {HTMLCanvasElement|OffscreenCanvas} Image
   */
  getImage() {
    const e = this.context;
    return e ? e.canvas : null;
  }
  /**
   * Get the image from a tile.
   * @param {import("../../ImageTile.js").default} tile Tile.
   * @return {HTMLCanvasElement|OffscreenCanvas|HTMLImageElement|HTMLVideoElement} Image.
   * @protected
   */
  getTileImage(e) {
    return e.getImage();
  }
  /**
   * @param {!Object<string, !Object<string, boolean>>} usedTiles Used tiles.
   * @param {import("../../source/Tile.js").default} tileSource Tile source.
   * @param {import('../../Tile.js').default} tile Tile.
   * @protected
   */
  updateUsedTiles(e, t, n) {
    const s = z(t);
    s in e || (e[s] = {}), e[s][n.getKey()] = !0;
  }
}
const hr = {
  PRELOAD: "preload",
  USE_INTERIM_TILES_ON_ERROR: "useInterimTilesOnError"
};
class Ry extends Gs {
  /**
   * @param {Options<TileSourceType>} [options] Tile layer options.
   */
  constructor(e) {
    e = e || {};
    const t = Object.assign({}, e), n = e.cacheSize;
    delete e.cacheSize, delete t.preload, delete t.useInterimTilesOnError, super(t), this.on, this.once, this.un, this.cacheSize_ = n, this.setPreload(e.preload !== void 0 ? e.preload : 0), this.setUseInterimTilesOnError(
      e.useInterimTilesOnError !== void 0 ? e.useInterimTilesOnError : !0
    );
  }
  /**
   * @return {number|undefined} The suggested cache size
   * @protected
   */
  getCacheSize() {
    return this.cacheSize_;
  }
  /**
   * Return the level as number to which we will preload tiles up to.
   * @return {number} The level to preload tiles up to.
   * @observable
   * @api
   */
  getPreload() {
    return (
      /** @type {number} */
      this.get(hr.PRELOAD)
    );
  }
  /**
   * Set the level as number to which we will preload tiles up to.
   * @param {number} preload The level to preload tiles up to.
   * @observable
   * @api
   */
  setPreload(e) {
    this.set(hr.PRELOAD, e);
  }
  /**
   * Deprecated.  Whether we use interim tiles on error.
   * @return {boolean} Use interim tiles on error.
   * @observable
   * @api
   */
  getUseInterimTilesOnError() {
    return (
      /** @type {boolean} */
      this.get(hr.USE_INTERIM_TILES_ON_ERROR)
    );
  }
  /**
   * Deprecated.  Set whether we use interim tiles on error.
   * @param {boolean} useInterimTilesOnError Use interim tiles on error.
   * @observable
   * @api
   */
  setUseInterimTilesOnError(e) {
    this.set(hr.USE_INTERIM_TILES_ON_ERROR, e);
  }
  /**
   * Get data for a pixel location.  The return type depends on the source data.  For image tiles,
   * a four element RGBA array will be returned.  For data tiles, the array length will match the
   * number of bands in the dataset.  For requests outside the layer extent, `null` will be returned.
   * Data for a image tiles can only be retrieved if the source's `crossOrigin` property is set.
   *
   * ```js
   * // display layer data on every pointer move
   * map.on('pointermove', (event) => {
   *   console.log(layer.getData(event.pixel));
   * });
   * ```
   * @param {import("../pixel").Pixel} pixel Pixel.
   * @return {Uint8ClampedArray|Uint8Array|Float32Array|DataView|null} Pixel data.
   * @api
   * @override
   */
  getData(e) {
    return super.getData(e);
  }
}
class wy extends Ry {
  /**
   * @param {import("./BaseTile.js").Options<TileSourceType>} [options] Tile layer options.
   */
  constructor(e) {
    super(e);
  }
  /**
   * @override
   */
  createRenderer() {
    return new Sy(this, {
      cacheSize: this.getCacheSize()
    });
  }
}
const hi = [0, 0, 0], fn = 5;
class $u {
  /**
   * @param {Options} options Tile grid options.
   */
  constructor(e) {
    this.minZoom = e.minZoom !== void 0 ? e.minZoom : 0, this.resolutions_ = e.resolutions, ie(
      bf(
        this.resolutions_,
        /**
         * @param {number} a First resolution
         * @param {number} b Second resolution
         * @return {number} Comparison result
         */
        (s, r) => r - s
      ),
      "`resolutions` must be sorted in descending order"
    );
    let t;
    if (!e.origins) {
      for (let s = 0, r = this.resolutions_.length - 1; s < r; ++s)
        if (!t)
          t = this.resolutions_[s] / this.resolutions_[s + 1];
        else if (this.resolutions_[s] / this.resolutions_[s + 1] !== t) {
          t = void 0;
          break;
        }
    }
    this.zoomFactor_ = t, this.maxZoom = this.resolutions_.length - 1, this.origin_ = e.origin !== void 0 ? e.origin : null, this.origins_ = null, e.origins !== void 0 && (this.origins_ = e.origins, ie(
      this.origins_.length == this.resolutions_.length,
      "Number of `origins` and `resolutions` must be equal"
    ));
    const n = e.extent;
    n !== void 0 && !this.origin_ && !this.origins_ && (this.origin_ = Xn(n)), ie(
      !this.origin_ && this.origins_ || this.origin_ && !this.origins_,
      "Either `origin` or `origins` must be configured, never both"
    ), this.tileSizes_ = null, e.tileSizes !== void 0 && (this.tileSizes_ = e.tileSizes, ie(
      this.tileSizes_.length == this.resolutions_.length,
      "Number of `tileSizes` and `resolutions` must be equal"
    )), this.tileSize_ = e.tileSize !== void 0 ? e.tileSize : this.tileSizes_ ? null : tl, ie(
      !this.tileSize_ && this.tileSizes_ || this.tileSize_ && !this.tileSizes_,
      "Either `tileSize` or `tileSizes` must be configured, never both"
    ), this.extent_ = n !== void 0 ? n : null, this.fullTileRanges_ = null, this.tmpSize_ = [0, 0], this.tmpExtent_ = [0, 0, 0, 0], e.sizes !== void 0 ? this.fullTileRanges_ = e.sizes.map((s, r) => {
      const o = new ll(
        Math.min(0, s[0]),
        Math.max(s[0] - 1, -1),
        Math.min(0, s[1]),
        Math.max(s[1] - 1, -1)
      );
      if (n) {
        const a = this.getTileRangeForExtentAndZ(n, r);
        o.minX = Math.max(a.minX, o.minX), o.maxX = Math.min(a.maxX, o.maxX), o.minY = Math.max(a.minY, o.minY), o.maxY = Math.min(a.maxY, o.maxY);
      }
      return o;
    }) : n && this.calculateTileRanges_(n);
  }
  /**
   * Call a function with each tile coordinate for a given extent and zoom level.
   *
   * @param {import("../extent.js").Extent} extent Extent.
   * @param {number} zoom Integer zoom level.
   * @param {function(import("../tilecoord.js").TileCoord): void} callback Function called with each tile coordinate.
   * @api
   */
  forEachTileCoord(e, t, n) {
    const s = this.getTileRangeForExtentAndZ(e, t);
    for (let r = s.minX, o = s.maxX; r <= o; ++r)
      for (let a = s.minY, l = s.maxY; a <= l; ++a)
        n([t, r, a]);
  }
  /**
   * @param {import("../tilecoord.js").TileCoord} tileCoord Tile coordinate.
   * @param {function(number, import("../TileRange.js").default): boolean} callback Callback.
   * @param {import("../TileRange.js").default} [tempTileRange] Temporary import("../TileRange.js").default object.
   * @param {import("../extent.js").Extent} [tempExtent] Temporary import("../extent.js").Extent object.
   * @return {boolean} Callback succeeded.
   */
  forEachTileCoordParentTileRange(e, t, n, s) {
    let r, o, a, l = null, c = e[0] - 1;
    for (this.zoomFactor_ === 2 ? (o = e[1], a = e[2]) : l = this.getTileCoordExtent(e, s); c >= this.minZoom; ) {
      if (o !== void 0 && a !== void 0 ? (o = Math.floor(o / 2), a = Math.floor(a / 2), r = ri(o, o, a, a, n)) : r = this.getTileRangeForExtentAndZ(
        l,
        c,
        n
      ), t(c, r))
        return !0;
      --c;
    }
    return !1;
  }
  /**
   * Get the extent for this tile grid, if it was configured.
   * @return {import("../extent.js").Extent} Extent.
   * @api
   */
  getExtent() {
    return this.extent_;
  }
  /**
   * Get the maximum zoom level for the grid.
   * @return {number} Max zoom.
   * @api
   */
  getMaxZoom() {
    return this.maxZoom;
  }
  /**
   * Get the minimum zoom level for the grid.
   * @return {number} Min zoom.
   * @api
   */
  getMinZoom() {
    return this.minZoom;
  }
  /**
   * Get the origin for the grid at the given zoom level.
   * @param {number} z Integer zoom level.
   * @return {import("../coordinate.js").Coordinate} Origin.
   * @api
   */
  getOrigin(e) {
    return this.origin_ ? this.origin_ : this.origins_[e];
  }
  /**
   * Get the resolution for the given zoom level.
   * @param {number} z Integer zoom level.
   * @return {number} Resolution.
   * @api
   */
  getResolution(e) {
    return this.resolutions_[e];
  }
  /**
   * Get the list of resolutions for the tile grid.
   * @return {Array<number>} Resolutions.
   * @api
   */
  getResolutions() {
    return this.resolutions_;
  }
  /**
   * @param {import("../tilecoord.js").TileCoord} tileCoord Tile coordinate.
   * @param {import("../TileRange.js").default} [tempTileRange] Temporary import("../TileRange.js").default object.
   * @param {import("../extent.js").Extent} [tempExtent] Temporary import("../extent.js").Extent object.
   * @return {import("../TileRange.js").default|null} Tile range.
   */
  getTileCoordChildTileRange(e, t, n) {
    if (e[0] < this.maxZoom) {
      if (this.zoomFactor_ === 2) {
        const r = e[1] * 2, o = e[2] * 2;
        return ri(
          r,
          r + 1,
          o,
          o + 1,
          t
        );
      }
      const s = this.getTileCoordExtent(
        e,
        n || this.tmpExtent_
      );
      return this.getTileRangeForExtentAndZ(
        s,
        e[0] + 1,
        t
      );
    }
    return null;
  }
  /**
   * @param {import("../tilecoord.js").TileCoord} tileCoord Tile coordinate.
   * @param {number} z Integer zoom level.
   * @param {import("../TileRange.js").default} [tempTileRange] Temporary import("../TileRange.js").default object.
   * @return {import("../TileRange.js").default|null} Tile range.
   */
  getTileRangeForTileCoordAndZ(e, t, n) {
    if (t > this.maxZoom || t < this.minZoom)
      return null;
    const s = e[0], r = e[1], o = e[2];
    if (t === s)
      return ri(
        r,
        o,
        r,
        o,
        n
      );
    if (this.zoomFactor_) {
      const l = Math.pow(this.zoomFactor_, t - s), c = Math.floor(r * l), h = Math.floor(o * l);
      if (t < s)
        return ri(c, c, h, h, n);
      const u = Math.floor(l * (r + 1)) - 1, d = Math.floor(l * (o + 1)) - 1;
      return ri(c, u, h, d, n);
    }
    const a = this.getTileCoordExtent(e, this.tmpExtent_);
    return this.getTileRangeForExtentAndZ(a, t, n);
  }
  /**
   * Get a tile range for the given extent and integer zoom level.
   * @param {import("../extent.js").Extent} extent Extent.
   * @param {number} z Integer zoom level.
   * @param {import("../TileRange.js").default} [tempTileRange] Temporary tile range object.
   * @return {import("../TileRange.js").default} Tile range.
   */
  getTileRangeForExtentAndZ(e, t, n) {
    this.getTileCoordForXYAndZ_(e[0], e[3], t, !1, hi);
    const s = hi[1], r = hi[2];
    this.getTileCoordForXYAndZ_(e[2], e[1], t, !0, hi);
    const o = hi[1], a = hi[2];
    return ri(s, o, r, a, n);
  }
  /**
   * @param {import("../tilecoord.js").TileCoord} tileCoord Tile coordinate.
   * @return {import("../coordinate.js").Coordinate} Tile center.
   */
  getTileCoordCenter(e) {
    const t = this.getOrigin(e[0]), n = this.getResolution(e[0]), s = qe(this.getTileSize(e[0]), this.tmpSize_);
    return [
      t[0] + (e[1] + 0.5) * s[0] * n,
      t[1] - (e[2] + 0.5) * s[1] * n
    ];
  }
  /**
   * Get the extent of a tile coordinate.
   *
   * @param {import("../tilecoord.js").TileCoord} tileCoord Tile coordinate.
   * @param {import("../extent.js").Extent} [tempExtent] Temporary extent object.
   * @return {import("../extent.js").Extent} Extent.
   * @api
   */
  getTileCoordExtent(e, t) {
    const n = this.getOrigin(e[0]), s = this.getResolution(e[0]), r = qe(this.getTileSize(e[0]), this.tmpSize_), o = n[0] + e[1] * r[0] * s, a = n[1] - (e[2] + 1) * r[1] * s, l = o + r[0] * s, c = a + r[1] * s;
    return Cn(o, a, l, c, t);
  }
  /**
   * Get the tile coordinate for the given map coordinate and resolution.  This
   * method considers that coordinates that intersect tile boundaries should be
   * assigned the higher tile coordinate.
   *
   * @param {import("../coordinate.js").Coordinate} coordinate Coordinate.
   * @param {number} resolution Resolution.
   * @param {import("../tilecoord.js").TileCoord} [opt_tileCoord] Destination import("../tilecoord.js").TileCoord object.
   * @return {import("../tilecoord.js").TileCoord} Tile coordinate.
   * @api
   */
  getTileCoordForCoordAndResolution(e, t, n) {
    return this.getTileCoordForXYAndResolution_(
      e[0],
      e[1],
      t,
      !1,
      n
    );
  }
  /**
   * Note that this method should not be called for resolutions that correspond
   * to an integer zoom level.  Instead call the `getTileCoordForXYAndZ_` method.
   * @param {number} x X.
   * @param {number} y Y.
   * @param {number} resolution Resolution (for a non-integer zoom level).
   * @param {boolean} reverseIntersectionPolicy Instead of letting edge
   *     intersections go to the higher tile coordinate, let edge intersections
   *     go to the lower tile coordinate.
   * @param {import("../tilecoord.js").TileCoord} [opt_tileCoord] Temporary import("../tilecoord.js").TileCoord object.
   * @return {import("../tilecoord.js").TileCoord} Tile coordinate.
   * @private
   */
  getTileCoordForXYAndResolution_(e, t, n, s, r) {
    const o = this.getZForResolution(n), a = n / this.getResolution(o), l = this.getOrigin(o), c = qe(this.getTileSize(o), this.tmpSize_);
    let h = a * (e - l[0]) / n / c[0], u = a * (l[1] - t) / n / c[1];
    return s ? (h = js(h, fn) - 1, u = js(u, fn) - 1) : (h = Xs(h, fn), u = Xs(u, fn)), br(o, h, u, r);
  }
  /**
   * Although there is repetition between this method and `getTileCoordForXYAndResolution_`,
   * they should have separate implementations.  This method is for integer zoom
   * levels.  The other method should only be called for resolutions corresponding
   * to non-integer zoom levels.
   * @param {number} x Map x coordinate.
   * @param {number} y Map y coordinate.
   * @param {number} z Integer zoom level.
   * @param {boolean} reverseIntersectionPolicy Instead of letting edge
   *     intersections go to the higher tile coordinate, let edge intersections
   *     go to the lower tile coordinate.
   * @param {import("../tilecoord.js").TileCoord} [opt_tileCoord] Temporary import("../tilecoord.js").TileCoord object.
   * @return {import("../tilecoord.js").TileCoord} Tile coordinate.
   * @private
   */
  getTileCoordForXYAndZ_(e, t, n, s, r) {
    const o = this.getOrigin(n), a = this.getResolution(n), l = qe(this.getTileSize(n), this.tmpSize_);
    let c = (e - o[0]) / a / l[0], h = (o[1] - t) / a / l[1];
    return s ? (c = js(c, fn) - 1, h = js(h, fn) - 1) : (c = Xs(c, fn), h = Xs(h, fn)), br(n, c, h, r);
  }
  /**
   * Get a tile coordinate given a map coordinate and zoom level.
   * @param {import("../coordinate.js").Coordinate} coordinate Coordinate.
   * @param {number} z Integer zoom level, e.g. the result of a `getZForResolution()` method call
   * @param {import("../tilecoord.js").TileCoord} [opt_tileCoord] Destination import("../tilecoord.js").TileCoord object.
   * @return {import("../tilecoord.js").TileCoord} Tile coordinate.
   * @api
   */
  getTileCoordForCoordAndZ(e, t, n) {
    return this.getTileCoordForXYAndZ_(
      e[0],
      e[1],
      t,
      !1,
      n
    );
  }
  /**
   * @param {import("../tilecoord.js").TileCoord} tileCoord Tile coordinate.
   * @return {number} Tile resolution.
   */
  getTileCoordResolution(e) {
    return this.resolutions_[e[0]];
  }
  /**
   * Get the tile size for a zoom level. The type of the return value matches the
   * `tileSize` or `tileSizes` that the tile grid was configured with. To always
   * get an {@link import("../size.js").Size}, run the result through {@link module:ol/size.toSize}.
   * @param {number} z Z.
   * @return {number|import("../size.js").Size} Tile size.
   * @api
   */
  getTileSize(e) {
    return this.tileSize_ ? this.tileSize_ : this.tileSizes_[e];
  }
  /**
   * @param {number} z Zoom level.
   * @return {import("../TileRange.js").default|null} Extent tile range for the specified zoom level.
   */
  getFullTileRange(e) {
    return this.fullTileRanges_ ? this.fullTileRanges_[e] : this.extent_ ? this.getTileRangeForExtentAndZ(this.extent_, e) : null;
  }
  /**
   * @param {number} resolution Resolution.
   * @param {number|import("../array.js").NearestDirectionFunction} [opt_direction]
   *     If 0, the nearest resolution will be used.
   *     If 1, the nearest higher resolution (lower Z) will be used. If -1, the
   *     nearest lower resolution (higher Z) will be used. Default is 0.
   *     Use a {@link module:ol/array~NearestDirectionFunction} for more precise control.
   *
   * For example to change tile Z at the midpoint of zoom levels
   * ```js
   * function(value, high, low) {
   *   return value - low * Math.sqrt(high / low);
   * }
   * ```
   * @return {number} Z.
   * @api
   */
  getZForResolution(e, t) {
    const n = ba(
      this.resolutions_,
      e,
      t || 0
    );
    return de(n, this.minZoom, this.maxZoom);
  }
  /**
   * The tile with the provided tile coordinate intersects the given viewport.
   * @param {import('../tilecoord.js').TileCoord} tileCoord Tile coordinate.
   * @param {Array<number>} viewport Viewport as returned from {@link module:ol/extent.getRotatedViewport}.
   * @return {boolean} The tile with the provided tile coordinate intersects the given viewport.
   */
  tileCoordIntersectsViewport(e, t) {
    return Fh(
      t,
      0,
      t.length,
      2,
      this.getTileCoordExtent(e)
    );
  }
  /**
   * @param {!import("../extent.js").Extent} extent Extent for this tile grid.
   * @private
   */
  calculateTileRanges_(e) {
    const t = this.resolutions_.length, n = new Array(t);
    for (let s = this.minZoom; s < t; ++s)
      n[s] = this.getTileRangeForExtentAndZ(e, s);
    this.fullTileRanges_ = n;
  }
}
function Wu(i) {
  let e = i.getDefaultTileGrid();
  return e || (e = Fy(i), i.setDefaultTileGrid(e)), e;
}
function Py(i, e, t) {
  const n = e[0], s = i.getTileCoordCenter(e), r = Pl(t);
  if (!Si(r, s)) {
    const o = ae(r), a = Math.ceil(
      (r[0] - s[0]) / o
    );
    return s[0] += o * a, i.getTileCoordForCoordAndZ(s, n);
  }
  return e;
}
function Iy(i, e, t, n) {
  n = n !== void 0 ? n : "top-left";
  const s = Vu(i, e, t);
  return new $u({
    extent: i,
    origin: md(i, n),
    resolutions: s,
    tileSize: t
  });
}
function Ay(i) {
  const e = i || {}, t = e.extent || me("EPSG:3857").getExtent(), n = {
    extent: t,
    minZoom: e.minZoom,
    tileSize: e.tileSize,
    resolutions: Vu(
      t,
      e.maxZoom,
      e.tileSize,
      e.maxResolution
    )
  };
  return new $u(n);
}
function Vu(i, e, t, n) {
  e = e !== void 0 ? e : fm, t = qe(t !== void 0 ? t : tl);
  const s = He(i), r = ae(i);
  n = n > 0 ? n : Math.max(r / t[0], s / t[1]);
  const o = e + 1, a = new Array(o);
  for (let l = 0; l < o; ++l)
    a[l] = n / Math.pow(2, l);
  return a;
}
function Fy(i, e, t, n) {
  const s = Pl(i);
  return Iy(s, e, t, n);
}
function Pl(i) {
  i = me(i);
  let e = i.getExtent();
  if (!e) {
    const t = 180 * os.degrees / i.getMetersPerUnit();
    e = Cn(-t, -t, t, t);
  }
  return e;
}
const by = /\{z\}/g, Ly = /\{x\}/g, My = /\{y\}/g, Dy = /\{-y\}/g;
function Oy(i, e, t, n, s) {
  return i.replace(by, e.toString()).replace(Ly, t.toString()).replace(My, n.toString()).replace(Dy, function() {
    if (s === void 0)
      throw new Error(
        "If the URL template has a {-y} placeholder, the grid extent must be known"
      );
    return (s - n).toString();
  });
}
function Ny(i) {
  const e = [];
  let t = /\{([a-z])-([a-z])\}/.exec(i);
  if (t) {
    const n = t[1].charCodeAt(0), s = t[2].charCodeAt(0);
    let r;
    for (r = n; r <= s; ++r)
      e.push(i.replace(t[0], String.fromCharCode(r)));
    return e;
  }
  if (t = /\{(\d+)-(\d+)\}/.exec(i), t) {
    const n = parseInt(t[2], 10);
    for (let s = parseInt(t[1], 10); s <= n; s++)
      e.push(i.replace(t[0], s.toString()));
    return e;
  }
  return e.push(i), e;
}
function ky(i, e) {
  return (
    /**
     * @param {import("./tilecoord.js").TileCoord} tileCoord Tile Coordinate.
     * @param {number} pixelRatio Pixel ratio.
     * @param {import("./proj/Projection.js").default} projection Projection.
     * @return {string|undefined} Tile URL.
     */
    (function(t, n, s) {
      if (!t)
        return;
      let r;
      const o = t[0];
      if (e) {
        const a = e.getFullTileRange(o);
        a && (r = a.getHeight() - 1);
      }
      return Oy(i, o, t[1], t[2], r);
    })
  );
}
function Gy(i, e) {
  const t = i.length, n = new Array(t);
  for (let s = 0; s < t; ++s)
    n[s] = ky(i[s], e);
  return By(n);
}
function By(i) {
  return i.length === 1 ? i[0] : (
    /**
     * @param {import("./tilecoord.js").TileCoord} tileCoord Tile Coordinate.
     * @param {number} pixelRatio Pixel ratio.
     * @param {import("./proj/Projection.js").default} projection Projection.
     * @return {string|undefined} Tile URL.
     */
    (function(e, t, n) {
      if (!e)
        return;
      const s = $0(e), r = kn(s, i.length);
      return i[r](e, t, n);
    })
  );
}
class Uy extends Qh {
  /**
   * @param {Options} options SourceTile source options.
   */
  constructor(e) {
    super({
      attributions: e.attributions,
      attributionsCollapsible: e.attributionsCollapsible,
      projection: e.projection,
      state: e.state,
      wrapX: e.wrapX,
      interpolate: e.interpolate
    }), this.on, this.once, this.un, this.tilePixelRatio_ = e.tilePixelRatio !== void 0 ? e.tilePixelRatio : 1, this.tileGrid = e.tileGrid !== void 0 ? e.tileGrid : null;
    const t = [256, 256];
    this.tileGrid && qe(this.tileGrid.getTileSize(this.tileGrid.getMinZoom()), t), this.tmpSize = [0, 0], this.key_ = e.key || z(this), this.tileOptions = {
      transition: e.transition,
      interpolate: e.interpolate
    }, this.zDirection = e.zDirection ? e.zDirection : 0;
  }
  /**
   * @param {import("../proj/Projection.js").default} projection Projection.
   * @return {number} Gutter.
   */
  getGutterForProjection(e) {
    return 0;
  }
  /**
   * Return the key to be used for all tiles in the source.
   * @return {string} The key for all tiles.
   */
  getKey() {
    return this.key_;
  }
  /**
   * Set the value to be used as the key for all tiles in the source.
   * @param {string} key The key for tiles.
   * @protected
   */
  setKey(e) {
    this.key_ !== e && (this.key_ = e, this.changed());
  }
  /**
   * @param {import("../proj/Projection").default} [projection] Projection.
   * @return {Array<number>|null} Resolutions.
   * @override
   */
  getResolutions(e) {
    const t = e ? this.getTileGridForProjection(e) : this.tileGrid;
    return t ? t.getResolutions() : null;
  }
  /**
   * @abstract
   * @param {number} z Tile coordinate z.
   * @param {number} x Tile coordinate x.
   * @param {number} y Tile coordinate y.
   * @param {number} pixelRatio Pixel ratio.
   * @param {import("../proj/Projection.js").default} projection Projection.
   * @param {import("../structs/LRUCache.js").default<import("../Tile.js").default>} [tileCache] Tile cache.
   * @return {TileType|null} Tile.
   */
  getTile(e, t, n, s, r, o) {
    return X();
  }
  /**
   * Return the tile grid of the tile source.
   * @return {import("../tilegrid/TileGrid.js").default|null} Tile grid.
   * @api
   */
  getTileGrid() {
    return this.tileGrid;
  }
  /**
   * @param {import("../proj/Projection.js").default} projection Projection.
   * @return {!import("../tilegrid/TileGrid.js").default} Tile grid.
   */
  getTileGridForProjection(e) {
    return this.tileGrid ? this.tileGrid : Wu(e);
  }
  /**
   * Get the tile pixel ratio for this source. Subclasses may override this
   * method, which is meant to return a supported pixel ratio that matches the
   * provided `pixelRatio` as close as possible.
   * @param {number} pixelRatio Pixel ratio.
   * @return {number} Tile pixel ratio.
   */
  getTilePixelRatio(e) {
    return this.tilePixelRatio_;
  }
  /**
   * @param {number} z Z.
   * @param {number} pixelRatio Pixel ratio.
   * @param {import("../proj/Projection.js").default} projection Projection.
   * @return {import("../size.js").Size} Tile size.
   */
  getTilePixelSize(e, t, n) {
    const s = this.getTileGridForProjection(n), r = this.getTilePixelRatio(t), o = qe(s.getTileSize(e), this.tmpSize);
    return r == 1 ? o : bg(o, r, this.tmpSize);
  }
  /**
   * Returns a tile coordinate wrapped around the x-axis. When the tile coordinate
   * is outside the resolution and extent range of the tile grid, `null` will be
   * returned.
   * @param {import("../tilecoord.js").TileCoord} tileCoord Tile coordinate.
   * @param {import("../proj/Projection.js").default} [projection] Projection.
   * @return {import("../tilecoord.js").TileCoord} Tile coordinate to be passed to the tileUrlFunction or
   *     null if no tile URL should be created for the passed `tileCoord`.
   */
  getTileCoordForTileUrlFunction(e, t) {
    const n = t !== void 0 ? t : this.getProjection(), s = t !== void 0 ? this.getTileGridForProjection(n) : this.tileGrid || this.getTileGridForProjection(n);
    return this.getWrapX() && n.isGlobal() && (e = Py(s, e, n)), V0(e, s) ? e : null;
  }
  /**
   * Remove all cached reprojected tiles from the source. The next render cycle will create new tiles.
   * @api
   */
  clear() {
  }
  /**
   * @override
   */
  refresh() {
    this.clear(), super.refresh();
  }
}
class zy extends At {
  /**
   * @param {string} type Type.
   * @param {import("../Tile.js").default} tile The tile.
   */
  constructor(e, t) {
    super(e), this.tile = t;
  }
}
const Vo = {
  /**
   * Triggered when a tile starts loading.
   * @event module:ol/source/Tile.TileSourceEvent#tileloadstart
   * @api
   */
  TILELOADSTART: "tileloadstart",
  /**
   * Triggered when a tile finishes loading, either when its data is loaded,
   * or when loading was aborted because the tile is no longer needed.
   * @event module:ol/source/Tile.TileSourceEvent#tileloadend
   * @api
   */
  TILELOADEND: "tileloadend",
  /**
   * Triggered if tile loading results in an error. Note that this is not the
   * right place to re-fetch tiles. See {@link module:ol/ImageTile~ImageTile#load}
   * for details.
   * @event module:ol/source/Tile.TileSourceEvent#tileloaderror
   * @api
   */
  TILELOADERROR: "tileloaderror"
};
class Il extends Uy {
  /**
   * @param {Options} options Image tile options.
   */
  constructor(e) {
    super({
      attributions: e.attributions,
      cacheSize: e.cacheSize,
      projection: e.projection,
      state: e.state,
      tileGrid: e.tileGrid,
      tilePixelRatio: e.tilePixelRatio,
      wrapX: e.wrapX,
      transition: e.transition,
      interpolate: e.interpolate,
      key: e.key,
      attributionsCollapsible: e.attributionsCollapsible,
      zDirection: e.zDirection
    }), this.generateTileUrlFunction_ = this.tileUrlFunction === Il.prototype.tileUrlFunction, this.tileLoadFunction = e.tileLoadFunction, e.tileUrlFunction && (this.tileUrlFunction = e.tileUrlFunction), this.urls = null, e.urls ? this.setUrls(e.urls) : e.url && this.setUrl(e.url), this.tileLoadingKeys_ = {};
  }
  /**
   * Deprecated.  Use an ImageTile source instead.
   * Return the tile load function of the source.
   * @return {import("../Tile.js").LoadFunction} TileLoadFunction
   * @api
   */
  getTileLoadFunction() {
    return this.tileLoadFunction;
  }
  /**
   * Deprecated.  Use an ImageTile source instead.
   * Return the tile URL function of the source.
   * @return {import("../Tile.js").UrlFunction} TileUrlFunction
   * @api
   */
  getTileUrlFunction() {
    return Object.getPrototypeOf(this).tileUrlFunction === this.tileUrlFunction ? this.tileUrlFunction.bind(this) : this.tileUrlFunction;
  }
  /**
   * Deprecated.  Use an ImageTile source instead.
   * Return the URLs used for this source.
   * When a tileUrlFunction is used instead of url or urls,
   * null will be returned.
   * @return {!Array<string>|null} URLs.
   * @api
   */
  getUrls() {
    return this.urls;
  }
  /**
   * Handle tile change events.
   * @param {import("../events/Event.js").default} event Event.
   * @protected
   */
  handleTileChange(e) {
    const t = (
      /** @type {import("../Tile.js").default} */
      e.target
    ), n = z(t), s = t.getState();
    let r;
    s == W.LOADING ? (this.tileLoadingKeys_[n] = !0, r = Vo.TILELOADSTART) : n in this.tileLoadingKeys_ && (delete this.tileLoadingKeys_[n], r = s == W.ERROR ? Vo.TILELOADERROR : s == W.LOADED ? Vo.TILELOADEND : void 0), r != null && this.dispatchEvent(new zy(r, t));
  }
  /**
   * Deprecated.  Use an ImageTile source instead.
   * Set the tile load function of the source.
   * @param {import("../Tile.js").LoadFunction} tileLoadFunction Tile load function.
   * @api
   */
  setTileLoadFunction(e) {
    this.tileLoadFunction = e, this.changed();
  }
  /**
   * Deprecated.  Use an ImageTile source instead.
   * Set the tile URL function of the source.
   * @param {import("../Tile.js").UrlFunction} tileUrlFunction Tile URL function.
   * @param {string} [key] Optional new tile key for the source.
   * @api
   */
  setTileUrlFunction(e, t) {
    this.tileUrlFunction = e, typeof t < "u" ? this.setKey(t) : this.changed();
  }
  /**
   * Set the URL to use for requests.
   * @param {string} url URL.
   * @api
   */
  setUrl(e) {
    const t = Ny(e);
    this.urls = t, this.setUrls(t);
  }
  /**
   * Deprecated.  Use an ImageTile source instead.
   * Set the URLs to use for requests.
   * @param {Array<string>} urls URLs.
   * @api
   */
  setUrls(e) {
    this.urls = e;
    const t = e.join(`
`);
    this.generateTileUrlFunction_ ? this.setTileUrlFunction(Gy(e, this.tileGrid), t) : this.setKey(t);
  }
  /**
   * @param {import("../tilecoord.js").TileCoord} tileCoord Tile coordinate.
   * @param {number} pixelRatio Pixel ratio.
   * @param {import("../proj/Projection.js").default} projection Projection.
   * @return {string|undefined} Tile URL.
   */
  tileUrlFunction(e, t, n) {
  }
}
class $y extends Il {
  /**
   * @param {!Options} options Image tile options.
   */
  constructor(e) {
    super({
      attributions: e.attributions,
      cacheSize: e.cacheSize,
      projection: e.projection,
      state: e.state,
      tileGrid: e.tileGrid,
      tileLoadFunction: e.tileLoadFunction ? e.tileLoadFunction : Xu,
      tilePixelRatio: e.tilePixelRatio,
      tileUrlFunction: e.tileUrlFunction,
      url: e.url,
      urls: e.urls,
      wrapX: e.wrapX,
      transition: e.transition,
      interpolate: e.interpolate !== void 0 ? e.interpolate : !0,
      key: e.key,
      attributionsCollapsible: e.attributionsCollapsible,
      zDirection: e.zDirection
    }), this.crossOrigin = e.crossOrigin !== void 0 ? e.crossOrigin : null, this.tileClass = e.tileClass !== void 0 ? e.tileClass : du, this.tileGridForProjection = {}, this.reprojectionErrorThreshold_ = e.reprojectionErrorThreshold, this.renderReprojectionEdges_ = !1;
  }
  /**
   * @param {import("../proj/Projection.js").default} projection Projection.
   * @return {number} Gutter.
   * @override
   */
  getGutterForProjection(e) {
    return this.getProjection() && e && !ts(this.getProjection(), e) ? 0 : this.getGutter();
  }
  /**
   * @return {number} Gutter.
   */
  getGutter() {
    return 0;
  }
  /**
   * Return the key to be used for all tiles in the source.
   * @return {string} The key for all tiles.
   * @override
   */
  getKey() {
    let e = super.getKey();
    return this.getInterpolate() || (e += ":disable-interpolation"), e;
  }
  /**
   * @param {import("../proj/Projection.js").default} projection Projection.
   * @return {!import("../tilegrid/TileGrid.js").default} Tile grid.
   * @override
   */
  getTileGridForProjection(e) {
    const t = this.getProjection();
    if (this.tileGrid && (!t || ts(t, e)))
      return this.tileGrid;
    const n = z(e);
    return n in this.tileGridForProjection || (this.tileGridForProjection[n] = Wu(e)), this.tileGridForProjection[n];
  }
  /**
   * @param {number} z Tile coordinate z.
   * @param {number} x Tile coordinate x.
   * @param {number} y Tile coordinate y.
   * @param {number} pixelRatio Pixel ratio.
   * @param {import("../proj/Projection.js").default} projection Projection.
   * @param {string} key The key set on the tile.
   * @return {!ImageTile} Tile.
   * @private
   */
  createTile_(e, t, n, s, r, o) {
    const a = [e, t, n], l = this.getTileCoordForTileUrlFunction(
      a,
      r
    ), c = l ? this.tileUrlFunction(l, s, r) : void 0, h = new this.tileClass(
      a,
      c !== void 0 ? W.IDLE : W.EMPTY,
      c !== void 0 ? c : "",
      this.crossOrigin,
      this.tileLoadFunction,
      this.tileOptions
    );
    return h.key = o, h.addEventListener(Y.CHANGE, this.handleTileChange.bind(this)), h;
  }
  /**
   * @param {number} z Tile coordinate z.
   * @param {number} x Tile coordinate x.
   * @param {number} y Tile coordinate y.
   * @param {number} pixelRatio Pixel ratio.
   * @param {import("../proj/Projection.js").default} projection Projection.
   * @param {import("../structs/LRUCache.js").default<import("../Tile.js").default>} [tileCache] Tile cache.
   * @return {!(ImageTile|ReprojTile)} Tile.
   * @override
   */
  getTile(e, t, n, s, r, o) {
    const a = this.getProjection();
    if (!a || !r || ts(a, r))
      return this.getTileInternal(
        e,
        t,
        n,
        s,
        a || r
      );
    const l = [e, t, n], c = this.getKey(), h = this.getTileGridForProjection(a), u = this.getTileGridForProjection(r), d = this.getTileCoordForTileUrlFunction(
      l,
      r
    ), f = new Gu(
      a,
      h,
      r,
      u,
      l,
      d,
      this.getTilePixelRatio(s),
      this.getGutter(),
      (g, m, _, p) => this.getTileInternal(g, m, _, p, a, o),
      this.reprojectionErrorThreshold_,
      this.renderReprojectionEdges_,
      this.tileOptions
    );
    return f.key = c, f;
  }
  /**
   * @param {number} z Tile coordinate z.
   * @param {number} x Tile coordinate x.
   * @param {number} y Tile coordinate y.
   * @param {number} pixelRatio Pixel ratio.
   * @param {!import("../proj/Projection.js").default} projection Projection.
   * @param {import("../structs/LRUCache.js").default<import("../Tile.js").default>} [tileCache] Tile cache.
   * @return {!ImageTile} Tile.
   * @protected
   */
  getTileInternal(e, t, n, s, r, o) {
    const a = this.getKey(), l = dr(this, a, e, t, n);
    if (o && o.containsKey(l))
      return (
        /** @type {!ImageTile} */
        o.get(l)
      );
    const c = this.createTile_(e, t, n, s, r, a);
    return o?.set(l, c), c;
  }
  /**
   * Sets whether to render reprojection edges or not (usually for debugging).
   * @param {boolean} render Render the edges.
   * @api
   */
  setRenderReprojectionEdges(e) {
    this.renderReprojectionEdges_ != e && (this.renderReprojectionEdges_ = e, this.changed());
  }
  /**
   * Sets the tile grid to use when reprojecting the tiles to the given
   * projection instead of the default tile grid for the projection.
   *
   * This can be useful when the default tile grid cannot be created
   * (e.g. projection has no extent defined) or
   * for optimization reasons (custom tile size, resolutions, ...).
   *
   * @param {import("../proj.js").ProjectionLike} projection Projection.
   * @param {import("../tilegrid/TileGrid.js").default} tilegrid Tile grid to use for the projection.
   * @api
   */
  setTileGridForProjection(e, t) {
    const n = me(e);
    if (n) {
      const s = z(n);
      s in this.tileGridForProjection || (this.tileGridForProjection[s] = t);
    }
  }
}
function Xu(i, e) {
  if (ct) {
    const t = i.getCrossOrigin();
    let n = "same-origin", s = "same-origin";
    t === "anonymous" || t === "" ? (n = "cors", s = "omit") : t === "use-credentials" && (n = "cors", s = "include"), fetch(e, {
      mode: n,
      credentials: s
    }).then((r) => {
      if (!r.ok)
        throw new Error(`HTTP ${r.status}`);
      return r.blob();
    }).then((r) => createImageBitmap(r)).then((r) => {
      const o = i.getImage();
      o.width = r.width, o.height = r.height, /** @type {OffscreenCanvas} */
      o.getContext("2d").drawImage(r, 0, 0), r.close?.(), o.dispatchEvent(new Event("load"));
    }).catch(() => {
      i.getImage().dispatchEvent(new Event("error"));
    });
    return;
  }
  i.getImage().src = e;
}
class Wy extends $y {
  /**
   * @param {Options} [options] XYZ options.
   */
  constructor(e) {
    e = e || {};
    const t = e.projection !== void 0 ? e.projection : "EPSG:3857", n = e.tileGrid !== void 0 ? e.tileGrid : Ay({
      extent: Pl(t),
      maxResolution: e.maxResolution,
      maxZoom: e.maxZoom,
      minZoom: e.minZoom,
      tileSize: e.tileSize
    });
    super({
      attributions: e.attributions,
      cacheSize: e.cacheSize,
      crossOrigin: e.crossOrigin,
      interpolate: e.interpolate,
      projection: t,
      reprojectionErrorThreshold: e.reprojectionErrorThreshold,
      tileGrid: n,
      tileLoadFunction: e.tileLoadFunction,
      tilePixelRatio: e.tilePixelRatio,
      tileUrlFunction: e.tileUrlFunction,
      url: e.url,
      urls: e.urls,
      wrapX: e.wrapX !== void 0 ? e.wrapX : !0,
      transition: e.transition,
      attributionsCollapsible: e.attributionsCollapsible,
      zDirection: e.zDirection
    }), this.gutter_ = e.gutter !== void 0 ? e.gutter : 0;
  }
  /**
   * @return {number} Gutter.
   * @override
   */
  getGutter() {
    return this.gutter_;
  }
}
const Vy = '&#169; <a href="https://www.openstreetmap.org/copyright" target="_blank">OpenStreetMap</a> contributors.';
class Xy extends Wy {
  /**
   * @param {Options} [options] Open Street Map options.
   */
  constructor(e) {
    e = e || {};
    let t;
    e.attributions !== void 0 ? t = e.attributions : t = [Vy];
    const n = e.crossOrigin !== void 0 ? e.crossOrigin : "anonymous", s = e.url !== void 0 ? e.url : "https://tile.openstreetmap.org/{z}/{x}/{y}.png";
    super({
      attributions: t,
      attributionsCollapsible: !1,
      cacheSize: e.cacheSize,
      crossOrigin: n,
      interpolate: e.interpolate,
      maxZoom: e.maxZoom !== void 0 ? e.maxZoom : 19,
      reprojectionErrorThreshold: e.reprojectionErrorThreshold,
      tileLoadFunction: (
        /**
         * @param {import("../ImageTile.js").default} tile Image tile
         * @param {string} src Image src
         */
        (r, o) => {
          const a = r.getImage();
          !ct && a instanceof HTMLImageElement && (a.referrerPolicy = "origin-when-cross-origin"), (e.tileLoadFunction || Xu)(r, o);
        }
      ),
      transition: e.transition,
      url: s,
      wrapX: e.wrapX,
      zDirection: e.zDirection
    });
  }
}
const Ye = {
  LOADING: "loading",
  READY: "ready",
  ERROR: "error",
  CAPTURING: "capturing"
}, eh = "EPSG:3857", Ti = "odk_value";
function jy(i, e) {
  let t, n, s, r;
  const o = od(i.mode), a = lt(Ye.LOADING), l = lt(), c = new Ya(), h = new Hr({
    source: c,
    style: i.mode === ad.DRAW ? yp(Rs, Qt) : Ac(Jt, _i),
    updateWhileAnimating: !0
  }), u = new ya({
    source: c,
    style: [
      ...dp(Jt, ur, _i),
      ...fp(Jt, ur, _i),
      ...Ac(Jt, _i)
    ],
    variables: { [_i]: "", [ur]: "" }
  }), d = (L, G, J) => {
    if (!t) {
      if (o.capabilities.canLoadMultiFeatures && !zp()) {
        a.value = Ye.ERROR, l.value = {
          title: "Graphics issue detected",
          message: "Your browser cannot display the map now. Enable graphics acceleration settings."
        };
        return;
      }
      t = new qm({
        target: L,
        layers: [new wy({ source: new Xy() })],
        view: new Nt({
          center: Fu,
          zoom: bu,
          // Prevent map cloning at low zoom during panning, which disrupts feature selection.
          multiWorld: !1,
          projection: eh,
          extent: me(eh)?.getExtent()
        }),
        controls: [new gu(), new fu({ collapsible: !1 })],
        interactions: Eu({ doubleClickZoom: !1 }),
        moveTolerance: 8
        // Prevents micro-panning from suppressing click events
      }), s = Ap(t), n = Cy(
        t,
        o.capabilities,
        i.singleFeatureType
      ), r = l0(
        t,
        o.capabilities,
        s,
        u
      ), f(G, J), n.setupMapVisibilityObserver(L, () => Ie()), a.value = Ye.READY;
    }
  }, f = (L, G) => {
    if (!t)
      return;
    if (o.capabilities.canLoadMultiFeatures) {
      t.addLayer(u), w(L, G);
      return;
    }
    if (t.addLayer(h), !G)
      return;
    const J = r?.createFeatureFromGeoJSON(G);
    F(J);
  }, g = (L) => {
    !t || !n || (n.removeMapInteractions(), !L && (o.interactions.select && n.toggleSelectEvent(!0, (G, J) => {
      r?.selectFeature(G, J), e.onVertexSelect(Mc(G, J));
    }), o.interactions.dragFeature && n.setupFeatureDrag(
      h,
      (G) => _(G)
    ), o.interactions.tapToAdd && (n.setupTapToAddVertex(
      c,
      (G) => _(G)
    ), o.interactions.dragFeatureAndVertex && n.setupVertexDrag(c, (G) => _(G)))));
  }, m = (L) => {
    L.set(Ti, Dc(L)), r?.saveFeature(L);
    const G = L.get(Qt);
    e.onVertexSelect(Mc(L, G));
  }, _ = (L) => {
    m(L), e.onFeaturePlacement && e.onFeaturePlacement();
  }, p = () => {
    if (!E())
      return;
    const L = r?.getSelectedFeature(), G = L?.get(Qt);
    if (!L || G === void 0)
      return;
    if (n?.pushUndoState(L), Gp(L, G) > 0) {
      m(L), D();
      return;
    }
    S();
  }, x = () => {
    const L = r?.getSelectedFeature();
    E() && L && (n?.pushUndoState(L), S());
  }, v = () => {
    const L = r?.getSelectedFeature();
    return L && L.get(Qt) === void 0;
  }, E = () => {
    const { canDeleteFeature: L, canLoadMultiFeatures: G } = o.capabilities;
    return L && !G;
  }, y = () => {
    const { canUndoLastChange: L, canLoadMultiFeatures: G } = o.capabilities;
    return !!n?.hasUndoHistory() && L && !G;
  }, T = () => {
    if (y()) {
      S();
      const L = n?.popUndoState();
      L && (c.addFeature(L), m(L), D());
    }
  }, S = () => {
    D(), O(), c.clear();
  }, w = (L, G) => {
    R(L), r?.findAndSaveFeature(c, G, !0);
  }, P = (L) => {
    if (!L.length || !o.capabilities.canUpdateVertexCoordinates)
      return;
    const G = r?.getSavedFeature(), J = G?.get(Qt);
    J !== void 0 && (n?.pushUndoState(G), Bp(G, J, L), m(G), s?.fitToAllFeatures(c));
  }, M = (L) => {
    if (!L.length || !o.capabilities.canUpdateFeatureCoordinates)
      return;
    const G = c.getFeatures()?.[0];
    G ? k(G, L) : U(L), s?.fitToAllFeatures(c);
  }, U = (L) => {
    const G = r?.createFeatureFromType(i.singleFeatureType, L);
    G && (n?.pushUndoState(null), c.addFeature(G), m(G));
  }, k = (L, G) => {
    const J = L.getGeometry();
    J && (n?.pushUndoState(L), J.setCoordinates(G, on), m(L), D());
  }, F = (L) => {
    !t || o.capabilities.canLoadMultiFeatures || !L || (a.value = Ye.LOADING, r?.loadAndSaveSingleFeature(c, L), e.onFeaturePlacement?.(), a.value = Ye.READY);
  }, R = (L) => {
    !t || !o.capabilities.canLoadMultiFeatures || (a.value = Ye.LOADING, S(), L.features.length ? r?.loadFeatureCollection(c, L) : s?.centerFullWorldView(), a.value = Ye.READY);
  }, A = () => {
    const L = s?.getUserCurrentLocation(), { canSaveCurrentLocation: G } = o.capabilities;
    if (!G || r?.getSavedFeature() || !L)
      return;
    const J = xa(
      L.longitude,
      L.latitude,
      L.altitude,
      L.accuracy
    ), Xe = r?.createFeatureFromType(
      ve.POINT,
      ls(J)
    );
    Xe && (Xe.set(Ti, Dc(Xe)), F(Xe));
  }, b = () => {
    if (o.capabilities.canLoadMultiFeatures) {
      O();
      return;
    }
    o.capabilities.canSaveCurrentLocation && Ie(), S();
  }, D = () => {
    r?.selectFeature(void 0), e.onVertexSelect(void 0);
  }, O = () => r?.saveFeature(void 0), j = () => {
    if (Ie(), s = void 0, n?.teardownMap(), n = void 0, r = void 0, ht.clear(), t) {
      t.getLayers().getArray().forEach((J) => {
        J.dispose(), t.removeLayer(J);
      });
      const G = t.getViewport().querySelector("canvas");
      if (G) {
        const J = G.getContext("webgl") ?? G.getContext("webgl2");
        if (J) {
          const Xe = J.getExtension("WEBGL_lose_context");
          Xe && Xe.loseContext();
        }
      }
      t.getInteractions().clear(), t.getOverlays().clear(), t.dispose(), t.setTarget(), t = void 0;
    }
  }, K = () => {
    const { canShowMapOverlayOnError: L, canShowMapOverlay: G } = o.capabilities, Xe = !!!s?.getUserCurrentLocation() && !r?.getSavedFeature();
    return a.value === Ye.ERROR ? L && Xe : a.value === Ye.READY && G && Xe;
  }, ee = () => o.capabilities.canRemoveCurrentLocation && !!r?.getSavedFeature(), I = () => o.interactions.tapToAdd && o.interactions.dragFeatureAndVertex, ye = () => o.interactions.tapToAdd && o.interactions.dragFeature, Ce = () => {
    const { singleFeatureType: L } = i;
    if (L !== ve.SHAPE && L !== ve.TRACE)
      return !1;
    const { canUpdateFeatureCoordinates: G, canUpdateVertexCoordinates: J } = o.capabilities;
    return G || J;
  }, fe = () => {
    a.value = Ye.CAPTURING, s?.watchCurrentLocation(
      () => {
        a.value = Ye.READY, A();
      },
      () => {
        a.value = Ye.ERROR, l.value = {
          title: "Cannot access location",
          message: "Grant location permission in the browser settings and make sure location is turned on."
        };
      }
    );
  }, Ie = () => {
    a.value = Ye.READY, s?.stopWatchingCurrentLocation();
  }, Ae = (L) => r?.findAndSaveFeature(
    c,
    L,
    o.capabilities.canViewProperties
  );
  return Tt(
    () => a.value,
    (L) => {
      L !== Ye.ERROR && (l.value = void 0);
    }
  ), {
    currentState: a,
    errorMessage: l,
    initMap: d,
    teardownMap: j,
    updateFeatureCollection: w,
    updateVertexCoords: P,
    updateFeatureCoordinates: M,
    setupMapInteractions: g,
    isMapEmpty: () => c.isEmpty(),
    fitToAllFeatures: () => s?.fitToAllFeatures(c),
    watchCurrentLocation: fe,
    stopWatchingCurrentLocation: Ie,
    canRemoveCurrentLocation: ee,
    discardSavedFeature: b,
    saveSelectedFeature: () => r?.saveSelectedFeature(),
    findAndSaveFeature: Ae,
    getSavedFeature: () => r?.getSavedFeature()?.clone(),
    getSavedFeatureValue: () => r?.getSavedFeatureValue(),
    isSavedFeatureSelected: () => !!r?.isSavedFeatureSelected(),
    confirmDeleteFeature: v,
    deleteFeature: x,
    deleteVertex: p,
    canDeleteFeatureOrVertex: E,
    canUndoChange: y,
    undoLastChange: T,
    isFeatureSelected: () => !!r?.getSelectedFeature(),
    getSelectedFeatureProperties: () => r?.getSelectedFeatureProperties(),
    selectSavedFeature: () => r?.selectFeature(r?.getSavedFeature()),
    unselectFeature: D,
    canDragFeatureAndVertex: I,
    canDragFeature: ye,
    canViewProperties: () => o.capabilities.canViewProperties,
    canOpenAdvancedPanel: Ce,
    shouldShowMapOverlay: K
  };
}
const Yy = {
  key: 0,
  class: "map-properties"
}, Zy = { class: "map-properties-header" }, Ky = { class: "map-properties-content" }, Hy = { class: "map-properties-footer" }, qy = /* @__PURE__ */ Wn({
  __name: "MapProperties",
  props: {
    reservedProps: {},
    orderedExtraProps: {},
    isSavedFeatureSelected: { type: Boolean },
    canRemove: { type: Boolean },
    canSave: { type: Boolean }
  },
  emits: ["close", "save", "discard"],
  setup(i, { emit: e }) {
    const t = i, n = e, s = yt(() => {
      const r = t.reservedProps?.[Ti];
      return r ? t.orderedExtraProps.get(r) ?? [] : [];
    });
    return (r, o) => i.reservedProps ? (te(), _e("div", Yy, [
      N("div", Zy, [
        N("strong", null, St(i.reservedProps.odk_label ?? i.reservedProps.odk_geometry), 1),
        N("button", {
          class: "close-icon",
          onClick: o[0] || (o[0] = (a) => n("close"))
        }, [
          he(Be, { name: "mdiClose" })
        ])
      ]),
      N("dl", Ky, [
        (te(!0), _e(ih, null, Ju(s.value, ([a = "", l = ""]) => (te(), _e("div", {
          key: a,
          class: "property-line"
        }, [
          N("dt", null, St(a), 1),
          N("dd", null, St(l), 1)
        ]))), 128))
      ]),
      N("div", Hy, [
        i.isSavedFeatureSelected && i.canRemove ? (te(), it(Q(Gt), {
          key: 0,
          outlined: "",
          severity: "contrast",
          onClick: o[1] || (o[1] = (a) => n("discard"))
        }, {
          default: We(() => [...o[3] || (o[3] = [
            N("span", null, "–", -1),
            N("span", null, "Remove selection", -1)
          ])]),
          _: 1
        })) : Ee("", !0),
        !i.isSavedFeatureSelected && i.canSave ? (te(), it(Q(Gt), {
          key: 1,
          onClick: o[2] || (o[2] = (a) => n("save"))
        }, {
          default: We(() => [
            he(Be, {
              name: "mdiCheckboxMarkedCircleOutline",
              size: "sm",
              variant: "inverted"
            }),
            o[4] || (o[4] = N("span", null, "Save selected", -1))
          ]),
          _: 1
        })) : Ee("", !0)
      ])
    ])) : Ee("", !0);
  }
}), Jy = /* @__PURE__ */ Li(qy, [["__scopeId", "data-v-d705b86b"]]), Qy = { class: "map-status-container" }, ex = {
  key: 0,
  class: "map-status"
}, tx = {
  key: 1,
  class: "map-status"
}, nx = {
  key: 2,
  class: "map-status-buttons"
}, th = "mdiVectorPolyline", nh = "mdiVectorPolygon", ix = /* @__PURE__ */ Wn({
  __name: "MapStatusBar",
  props: {
    savedFeatureValue: {},
    selectedVertex: {},
    singleFeatureType: {},
    isCapturing: { type: Boolean },
    isFullScreen: { type: Boolean },
    canRemove: { type: Boolean },
    canViewDetails: { type: Boolean },
    canOpenAdvancedPanel: { type: Boolean }
  },
  emits: ["discard", "toggle-advanced-panel", "view-details"],
  setup(i, { emit: e }) {
    const t = i, n = e, s = yt(() => t.singleFeatureType === ve.TRACE ? { message: "No trace saved", icon: th } : t.singleFeatureType === ve.SHAPE ? { message: "No shape saved", icon: nh } : { message: "No point saved", icon: "mdiMapMarkerOutline" }), r = yt(() => {
      if (!t.selectedVertex || t.selectedVertex.length < 2)
        return "";
      const [h, u, d, f] = cs(t.selectedVertex), g = [`Longitude: ${h}`, `Latitude: ${u}`];
      return d != null && g.push(`Altitude: ${d} m`), f != null && g.push(`Accuracy: ${ld(f, { decimals: 3 })}`), g.join(", ");
    }), o = (h = []) => {
      if (t.singleFeatureType === ve.POINT && h?.length)
        return 1;
      if (t.singleFeatureType === ve.TRACE)
        return h.length;
      const u = h[0];
      return t.singleFeatureType === ve.SHAPE && Array.isArray(u) && bi(u[0], u[u.length - 1]) ? u.length - 1 : 0;
    }, a = (h) => {
      const u = h?.toLowerCase();
      return u === "point" ? "Point saved" : u === "linestring" ? "Trace saved" : u === "polygon" ? "Shape saved" : "Feature saved";
    }, l = yt(() => {
      const h = t.savedFeatureValue?.geometry;
      if (!t.singleFeatureType && h)
        return {
          message: a(h.type),
          icon: "mdiCheckCircle",
          highlight: !0
        };
      const d = o(h?.coordinates);
      if (d === 0)
        return null;
      const f = `${d} points saved`;
      return t.singleFeatureType === ve.TRACE ? { message: f, icon: th } : t.singleFeatureType === ve.SHAPE ? { message: f, icon: nh } : { message: "Point saved", icon: "mdiCheckCircle", highlight: !0 };
    }), c = yt(() => {
      const h = l.value ?? s.value;
      return r.value.length ? { ...h, message: r.value } : { ...h };
    });
    return (h, u) => (te(), _e("div", {
      class: On(["map-status-bar", { "full-screen-active": i.isFullScreen }])
    }, [
      N("div", Qy, [
        i.isCapturing ? (te(), _e("div", ex, [
          he(Q(cd), {
            class: "map-status-spinner",
            "stroke-width": "5px"
          }),
          u[3] || (u[3] = N("span", null, "Capturing location...", -1))
        ])) : Ee("", !0),
        !i.isCapturing && c.value ? (te(), _e("div", tx, [
          he(Be, {
            name: c.value.icon,
            variant: c.value.highlight ? "success" : "base"
          }, null, 8, ["name", "variant"]),
          N("span", null, St(c.value.message), 1)
        ])) : Ee("", !0),
        l.value ? (te(), _e("div", nx, [
          i.canRemove ? (te(), it(Q(Gt), {
            key: 0,
            outlined: "",
            severity: "contrast",
            onClick: u[0] || (u[0] = (d) => n("discard"))
          }, {
            default: We(() => [...u[4] || (u[4] = [
              N("span", null, "–", -1),
              N("span", { class: "mobile-only" }, "Remove", -1),
              N("span", { class: "desktop-only" }, "Remove point", -1)
            ])]),
            _: 1
          })) : Ee("", !0),
          i.canViewDetails ? (te(), it(Q(Gt), {
            key: 1,
            outlined: "",
            severity: "contrast",
            onClick: u[1] || (u[1] = (d) => n("view-details"))
          }, {
            default: We(() => [...u[5] || (u[5] = [
              N("span", null, "View details", -1)
            ])]),
            _: 1
          })) : Ee("", !0)
        ])) : Ee("", !0)
      ]),
      i.canOpenAdvancedPanel ? (te(), it(Q(Gt), {
        key: 0,
        class: "advanced-button",
        outlined: "",
        severity: "contrast",
        onClick: u[2] || (u[2] = (d) => n("toggle-advanced-panel"))
      }, {
        default: We(() => [
          he(Be, { name: "mdiCogOutline" }),
          u[6] || (u[6] = N("span", null, "Advanced", -1))
        ]),
        _: 1
      })) : Ee("", !0)
    ], 2));
  }
}), sx = /* @__PURE__ */ Li(ix, [["__scopeId", "data-v-f8d03afc"]]), rx = { class: "dialog-field-container" }, ox = {
  key: 0,
  class: "coords-error-message"
}, ax = { class: "dialog-field-container" }, lx = {
  key: 0,
  class: "file-added-container"
}, cx = { class: "file-name" }, hx = {
  key: 1,
  class: "coords-error-message"
}, ux = /* @__PURE__ */ Wn({
  __name: "MapUpdateCoordsDialog",
  props: {
    visible: { type: Boolean },
    singleFeatureType: {}
  },
  emits: ["update:visible", "save"],
  setup(i, { emit: e }) {
    const t = i, n = e, s = Me(""), r = Me(null), o = Me(null), a = Me(!1), l = Me(null), c = Me(null), h = () => {
      _(), r.value?.click();
    }, u = (y) => {
      const S = y.target.files?.[0];
      S && (o.value = S);
    }, d = async (y) => {
      try {
        const T = await y.text();
        if (!T?.trim()?.length) {
          v("File is empty.");
          return;
        }
        if (y.name.toLowerCase().endsWith(".geojson"))
          return ud(T);
        v("Unsupported file type. Please upload a .geojson file.");
      } catch {
        v("Failed to parse file. Ensure it is a valid GeoJSON.");
      }
    }, f = () => {
      const y = s.value.trim();
      if (y.length)
        return dd(y);
    }, g = async () => {
      x(), a.value = !0;
      let y;
      o.value ? y = await d(o.value) : s.value.length && (y = f());
      const T = $p(
        y,
        t.singleFeatureType
      );
      a.value = !1;
      const S = "Incorrect geometry type.";
      if (!T?.length && o.value) {
        v(S);
        return;
      }
      if (!T?.length && s.value.length) {
        E(S);
        return;
      }
      m(), n("save", T);
    }, m = () => {
      _(), n("update:visible", !1);
    }, _ = () => {
      s.value = "", a.value = !1, p(), x();
    }, p = () => {
      o.value = null, r.value && (r.value.value = "");
    }, x = () => {
      l.value = null, c.value = null;
    }, v = (y) => c.value ??= y, E = (y) => l.value ??= y;
    return Tt(s, (y) => {
      x(), y && o.value && p();
    }), (y, T) => (te(), it(Q(sh), {
      visible: i.visible,
      modal: "",
      class: "map-paste-dialog",
      draggable: !1,
      "onUpdate:visible": T[1] || (T[1] = (S) => n("update:visible", S)),
      onAfterHide: _
    }, {
      header: We(() => [...T[2] || (T[2] = [
        N("strong", null, "Import data to replace location", -1)
      ])]),
      default: We(() => [
        N("div", rx, [
          T[3] || (T[3] = N("label", { for: "paste-input" }, [
            N("span", null, "Paste data in ODK format"),
            N("span", {
              class: "info-helper",
              title: "Enter as: Lat Long Alt Acc (e.g. 45.5 -122.6 15 2; 45.6 -122.7 12 3)"
            }, " ⓘ ")
          ], -1)),
          he(Q(hd), {
            id: "paste-input",
            modelValue: s.value,
            "onUpdate:modelValue": T[0] || (T[0] = (S) => s.value = S),
            disabled: a.value,
            "auto-resize": "",
            rows: "1"
          }, null, 8, ["modelValue", "disabled"]),
          l.value?.length ? (te(), _e("p", ox, St(l.value), 1)) : Ee("", !0)
        ]),
        N("div", ax, [
          T[5] || (T[5] = N("label", null, "Upload a GeoJSON file", -1)),
          o.value ? (te(), _e("div", lx, [
            he(Be, { name: "mdiFileOutline" }),
            N("span", cx, St(o.value.name), 1),
            he(Be, {
              class: "clear-file",
              name: "mdiClose",
              variant: "muted",
              size: "sm",
              onClick: _
            })
          ])) : Ee("", !0),
          c.value?.length ? (te(), _e("p", hx, St(c.value), 1)) : Ee("", !0),
          he(Q(Gt), {
            class: "upload-button",
            outlined: "",
            severity: "contrast",
            disabled: a.value,
            onClick: h
          }, {
            default: We(() => [
              he(Be, { name: "mdiUpload" }),
              T[4] || (T[4] = N("span", null, "Upload file", -1))
            ]),
            _: 1
          }, 8, ["disabled"]),
          N("input", {
            ref_key: "fileInput",
            ref: r,
            type: "file",
            accept: ".geojson,application/json",
            onChange: u
          }, null, 544)
        ])
      ]),
      footer: We(() => [
        he(Q(Gt), {
          label: "Save",
          disabled: !o.value && !s.value.length,
          onClick: g
        }, null, 8, ["disabled"])
      ]),
      _: 1
    }, 8, ["visible"]));
  }
}), dx = /* @__PURE__ */ Li(ux, [["__scopeId", "data-v-2b003337"]]), fx = { class: "map-block-component" }, gx = {
  key: 1,
  class: "map-overlay get-location-overlay"
}, _x = { key: 0 }, mx = { key: 1 }, px = { class: "error-message" }, yx = /* @__PURE__ */ Wn({
  __name: "MapBlock",
  props: {
    featureCollection: {},
    disabled: { type: Boolean },
    singleFeatureType: {},
    mode: {},
    orderedExtraProps: {},
    savedFeatureValue: {}
  },
  emits: ["save"],
  setup(i, { emit: e }) {
    const t = i, n = e, s = Me(), r = Me(!1), o = Me(!1), a = Me(!1), l = Me(!1), c = Me(!1), h = Me(), u = Me(!1), d = Qu(
      fd,
      yt(() => !1)
    ), f = jy(
      { mode: t.mode, singleFeatureType: t.singleFeatureType },
      {
        onFeaturePlacement: () => p(),
        onVertexSelect: (F) => h.value = F
      }
    ), g = yt(() => f.canOpenAdvancedPanel() && h.value?.length ? cs(h.value) : null), m = yt(() => !t.disabled && (f.canUndoChange() || f.canDeleteFeatureOrVertex())), _ = yt(() => t.disabled ? null : f.canDragFeatureAndVertex() ? {
      placed: "Press and drag to move a point",
      default: "Tap to place a point"
    } : f.canDragFeature() ? {
      placed: "Tap to move point",
      default: "Use the location button to center on your current location"
    } : null);
    ed(() => {
      !s.value || !f || (f.initMap(s.value, t.featureCollection, t.savedFeatureValue), f.setupMapInteractions(t.disabled), document.addEventListener("keydown", x));
    }), td(() => {
      document.removeEventListener("keydown", x), f.teardownMap();
    }), Tt(
      () => t.featureCollection,
      (F) => {
        f.updateFeatureCollection(F, t.savedFeatureValue), v();
      },
      { deep: !0 }
    ), Tt(
      () => t.savedFeatureValue,
      (F) => {
        f.findAndSaveFeature(F);
      }
    ), Tt(
      () => t.disabled,
      (F) => f.setupMapInteractions(F)
    ), Tt(r, async (F) => {
      F || (await nd(), o.value = !1, f.fitToAllFeatures(), f.stopWatchingCurrentLocation());
    });
    const p = () => v();
    Tt(
      () => f.errorMessage.value,
      () => u.value = !!f.errorMessage.value
    );
    const x = (F) => {
      F.key === "Escape" && r.value && (r.value = !1);
    }, v = () => {
      const F = f.getSavedFeatureValue() ?? "";
      c.value = !!F.length, n("save", F);
    }, E = () => {
      f.saveSelectedFeature(), v();
    }, y = () => {
      f.discardSavedFeature(), v();
    }, T = () => {
      if (f.confirmDeleteFeature()) {
        a.value = !0;
        return;
      }
      f.deleteVertex(), v();
    }, S = () => {
      f.deleteFeature(), a.value = !1, v();
    }, w = () => {
      f.undoLastChange(), v();
    }, P = (F) => {
      f.updateFeatureCoordinates(F), v();
    }, M = (F) => {
      f.updateVertexCoords(F), v();
    }, U = () => {
      r.value = !0, f.shouldShowMapOverlay() && f.watchCurrentLocation();
    }, k = () => {
      r.value = !r.value;
    };
    return (F, R) => (te(), _e(ih, null, [
      N("div", fx, [
        N("div", {
          class: On({ "map-container": !0, "map-full-screen": r.value })
        }, [
          N("div", {
            ref_key: "mapElement",
            ref: s,
            class: "map-block"
          }, [
            r.value ? Ee("", !0) : (te(), _e("div", {
              key: 0,
              class: "map-overlay full-screen-overlay",
              onClick: U
            })),
            Q(f).shouldShowMapOverlay() ? (te(), _e("div", gx, [
              he(Q(Gt), {
                severity: "secondary",
                outlined: "",
                class: "close-full-screen",
                onClick: R[0] || (R[0] = (A) => r.value = !1)
              }, {
                default: We(() => [
                  he(Be, {
                    name: "mdiClose",
                    size: "sm"
                  })
                ]),
                _: 1
              }),
              he(Q(Gt), {
                outlined: "",
                severity: "contrast",
                onClick: Q(f).watchCurrentLocation
              }, {
                default: We(() => [
                  he(Be, { name: "mdiCrosshairsGps" }),
                  R[6] || (R[6] = N("span", null, "Get location", -1))
                ]),
                _: 1
              }, 8, ["onClick"])
            ])) : Ee("", !0),
            he(wf, {
              "is-full-screen": r.value,
              "disable-fit-all-features": Q(f).isMapEmpty(),
              "disable-undo": !Q(f).canUndoChange(),
              "disable-delete": !Q(f).isFeatureSelected(),
              "show-secondary-controls": m.value,
              onToggleFullScreen: k,
              onFitAllFeatures: Q(f).fitToAllFeatures,
              onWatchCurrentLocation: Q(f).watchCurrentLocation,
              onTriggerDelete: T,
              onUndoLastChange: w
            }, null, 8, ["is-full-screen", "disable-fit-all-features", "disable-undo", "disable-delete", "show-secondary-controls", "onFitAllFeatures", "onWatchCurrentLocation"]),
            _.value ? (te(), it(Q(gd), {
              key: 2,
              severity: "contrast",
              closable: "",
              size: "small",
              class: On({ "map-message": !0, "above-secondary-controls": r.value && m.value })
            }, {
              default: We(() => [
                c.value ? (te(), _e("span", _x, St(_.value.placed), 1)) : (te(), _e("span", mx, St(_.value.default), 1))
              ]),
              _: 1
            }, 8, ["class"])) : Ee("", !0)
          ], 512),
          he(sx, {
            "can-open-advanced-panel": !i.disabled && Q(f).canOpenAdvancedPanel(),
            "can-remove": !i.disabled && Q(f).canRemoveCurrentLocation(),
            "can-view-details": Q(f).canViewProperties(),
            "single-feature-type": i.singleFeatureType,
            "is-capturing": Q(f).currentState.value === Q(Ye).CAPTURING,
            "is-full-screen": r.value,
            "saved-feature-value": i.savedFeatureValue,
            "selected-vertex": h.value,
            class: "map-status-bar-component",
            onDiscard: y,
            onViewDetails: Q(f).selectSavedFeature,
            onToggleAdvancedPanel: R[1] || (R[1] = (A) => o.value = !o.value)
          }, null, 8, ["can-open-advanced-panel", "can-remove", "can-view-details", "single-feature-type", "is-capturing", "is-full-screen", "saved-feature-value", "selected-vertex", "onViewDetails"]),
          !i.disabled && Q(f).canOpenAdvancedPanel() ? (te(), it(gf, {
            key: 0,
            "is-open": o.value,
            coordinates: g.value,
            onOpenPasteDialog: R[2] || (R[2] = (A) => l.value = !0),
            onSave: M
          }, null, 8, ["is-open", "coordinates"])) : Ee("", !0),
          Q(f).canViewProperties() ? (te(), it(Jy, {
            key: 1,
            "can-remove": !i.disabled,
            "can-save": !i.disabled,
            "is-saved-feature-selected": Q(f).isSavedFeatureSelected(),
            "ordered-extra-props": i.orderedExtraProps,
            "reserved-props": Q(f).getSelectedFeatureProperties(),
            onClose: Q(f).unselectFeature,
            onDiscard: y,
            onSave: E
          }, null, 8, ["can-remove", "can-save", "is-saved-feature-selected", "ordered-extra-props", "reserved-props", "onClose"])) : Ee("", !0)
        ], 2),
        Q(f).errorMessage.value && (!r.value || u.value) ? (te(), _e("div", {
          key: 0,
          class: On(["map-block-error", { "stack-errors": Q(d) && !r.value, "top-position": r.value }])
        }, [
          N("div", px, [
            N("strong", null, St(Q(f).errorMessage.value.title), 1),
            R[7] || (R[7] = id("   ", -1)),
            N("span", null, St(Q(f).errorMessage.value.message), 1)
          ]),
          r.value ? (te(), it(Be, {
            key: 0,
            class: "clear-error",
            name: "mdiClose",
            variant: "error",
            size: "sm",
            onClick: R[3] || (R[3] = (A) => u.value = !1)
          })) : Ee("", !0)
        ], 2)) : Ee("", !0)
      ]),
      he(xf, {
        visible: a.value,
        "onUpdate:visible": R[4] || (R[4] = (A) => a.value = A),
        "single-feature-type": i.singleFeatureType,
        onDeleteFeature: S
      }, null, 8, ["visible", "single-feature-type"]),
      he(dx, {
        visible: l.value,
        "onUpdate:visible": R[5] || (R[5] = (A) => l.value = A),
        "single-feature-type": i.singleFeatureType,
        onSave: P
      }, null, 8, ["visible", "single-feature-type"])
    ], 64));
  }
}), Tx = /* @__PURE__ */ Li(yx, [["__scopeId", "data-v-89330403"]]);
export {
  Tx as default
};
