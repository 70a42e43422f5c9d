/*
 * Minimal N-API binding of libopus for the MCU audio mixer.
 *
 * Exposes two classes, OpusEncoder and OpusDecoder. Every argument is validated and every libopus
 * error becomes a JS exception: the mixer feeds this code with packets straight off the network,
 * so a malformed packet must never take the process down. Native state lives in a struct wrapped
 * by the JS object and is released by the GC finalizer or earlier by destroy().
 *
 * The module is context-aware (NAPI_MODULE_INIT, no static JS state), so it can be loaded in any
 * number of worker_threads at once.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <opus/opus.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 120 ms at 48 kHz: the longest frame an Opus packet can carry. */
#define MAX_FRAME_SAMPLES 5760
/* Recommended upper bound for one Opus packet (RFC 6716 §3.4 allows up to 1275 bytes per frame). */
#define MAX_PACKET_BYTES 4000

typedef struct {
  OpusEncoder *enc;
  int channels;
  int sample_rate;
} EncoderState;

typedef struct {
  OpusDecoder *dec;
  int channels;
  int sample_rate;
} DecoderState;

#define CHECK(env, call)                                                   \
  do {                                                                     \
    if ((call) != napi_ok) {                                               \
      throw_last_error(env);                                               \
      return NULL;                                                         \
    }                                                                      \
  } while (0)

static void throw_last_error(napi_env env) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return;
  const napi_extended_error_info *info = NULL;
  napi_get_last_error_info(env, &info);
  napi_throw_error(env, "ERR_OPUS_NAPI",
                   info && info->error_message ? info->error_message : "N-API call failed");
}

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_OPUS_ARG", msg);
  return NULL;
}

static napi_value throw_range(napi_env env, const char *msg) {
  napi_throw_range_error(env, "ERR_OPUS_ARG", msg);
  return NULL;
}

static napi_value throw_opus(napi_env env, const char *what, int code) {
  char buf[160];
  snprintf(buf, sizeof buf, "%s: %s (%d)", what, opus_strerror(code), code);
  napi_throw_error(env, "ERR_OPUS_CODEC", buf);
  return NULL;
}

static int valid_rate(int32_t rate) {
  return rate == 8000 || rate == 12000 || rate == 16000 || rate == 24000 || rate == 48000;
}

static int get_int(napi_env env, napi_value v, const char *name, int32_t *out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number) {
    char buf[96];
    snprintf(buf, sizeof buf, "%s must be a number", name);
    napi_throw_type_error(env, "ERR_OPUS_ARG", buf);
    return 0;
  }
  double d = 0;
  napi_get_value_double(env, v, &d);
  if (!(d >= -2147483648.0 && d <= 2147483647.0) || d != (double)(int32_t)d) {
    char buf[96];
    snprintf(buf, sizeof buf, "%s must be a 32-bit integer", name);
    napi_throw_range_error(env, "ERR_OPUS_ARG", buf);
    return 0;
  }
  *out = (int32_t)d;
  return 1;
}

/* Reads a Buffer/Uint8Array argument. Returns 0 (with a pending exception) if it is anything else. */
static int get_bytes(napi_env env, napi_value v, const uint8_t **data, size_t *len) {
  bool is_ta = false;
  napi_is_typedarray(env, v, &is_ta);
  if (!is_ta) {
    napi_throw_type_error(env, "ERR_OPUS_ARG", "packet must be a Buffer or Uint8Array");
    return 0;
  }
  napi_typedarray_type type;
  size_t length = 0;
  void *ptr = NULL;
  if (napi_get_typedarray_info(env, v, &type, &length, &ptr, NULL, NULL) != napi_ok) return 0;
  if (type != napi_uint8_array && type != napi_uint8_clamped_array) {
    napi_throw_type_error(env, "ERR_OPUS_ARG", "packet must be a Buffer or Uint8Array");
    return 0;
  }
  *data = (const uint8_t *)ptr;
  *len = length;
  return 1;
}

static int get_int16(napi_env env, napi_value v, const char *name, int16_t **data, size_t *len) {
  bool is_ta = false;
  napi_is_typedarray(env, v, &is_ta);
  napi_typedarray_type type = napi_int8_array;
  size_t length = 0;
  void *ptr = NULL;
  if (is_ta) napi_get_typedarray_info(env, v, &type, &length, &ptr, NULL, NULL);
  if (!is_ta || type != napi_int16_array) {
    char buf[96];
    snprintf(buf, sizeof buf, "%s must be an Int16Array", name);
    napi_throw_type_error(env, "ERR_OPUS_ARG", buf);
    return 0;
  }
  *data = (int16_t *)ptr;
  *len = length;
  return 1;
}

static int valid_frame(int sample_rate, int samples) {
  /* Opus frames are 2.5, 5, 10, 20, 40 or 60 ms. */
  int per_ms = sample_rate / 1000;
  return samples * 2 == per_ms * 5 || samples == per_ms * 5 || samples == per_ms * 10 ||
         samples == per_ms * 20 || samples == per_ms * 40 || samples == per_ms * 60;
}

/* ---------------------------------------------------------------- encoder */

static void encoder_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  EncoderState *s = (EncoderState *)data;
  if (s->enc) opus_encoder_destroy(s->enc);
  free(s);
}

static EncoderState *unwrap_encoder(napi_env env, napi_value self) {
  EncoderState *s = NULL;
  if (napi_unwrap(env, self, (void **)&s) != napi_ok || s == NULL) {
    napi_throw_type_error(env, "ERR_OPUS_ARG", "not an OpusEncoder");
    return NULL;
  }
  if (s->enc == NULL) {
    napi_throw_error(env, "ERR_OPUS_DESTROYED", "OpusEncoder has been destroyed");
    return NULL;
  }
  return s;
}

/* new OpusEncoder(sampleRate, channels, application) with application 2048 voip, 2049 audio, 2051 lowdelay */
static napi_value encoder_new(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], self;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  if (argc < 3) return throw_type(env, "OpusEncoder(sampleRate, channels, application)");
  int32_t rate, channels, application;
  if (!get_int(env, argv[0], "sampleRate", &rate)) return NULL;
  if (!get_int(env, argv[1], "channels", &channels)) return NULL;
  if (!get_int(env, argv[2], "application", &application)) return NULL;
  if (!valid_rate(rate)) return throw_range(env, "sampleRate must be 8000, 12000, 16000, 24000 or 48000");
  if (channels != 1 && channels != 2) return throw_range(env, "channels must be 1 or 2");
  if (application != OPUS_APPLICATION_VOIP && application != OPUS_APPLICATION_AUDIO &&
      application != OPUS_APPLICATION_RESTRICTED_LOWDELAY)
    return throw_range(env, "application must be 2048 (voip), 2049 (audio) or 2051 (lowdelay)");
  int err = 0;
  OpusEncoder *enc = opus_encoder_create(rate, channels, application, &err);
  if (err != OPUS_OK || enc == NULL) return throw_opus(env, "opus_encoder_create", err);
  EncoderState *s = (EncoderState *)calloc(1, sizeof *s);
  if (s == NULL) {
    opus_encoder_destroy(enc);
    napi_throw_error(env, "ERR_OPUS_NOMEM", "out of memory");
    return NULL;
  }
  s->enc = enc;
  s->channels = channels;
  s->sample_rate = rate;
  if (napi_wrap(env, self, s, encoder_finalize, NULL, NULL) != napi_ok) {
    encoder_finalize(env, s, NULL);
    throw_last_error(env);
    return NULL;
  }
  return self;
}

/* Encodes pcm into out (Uint8Array); returns the packet length. No allocation per call. */
static napi_value encoder_encode_into(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], self;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  EncoderState *s = unwrap_encoder(env, self);
  if (s == NULL) return NULL;
  if (argc < 2) return throw_type(env, "encodeInto(pcm, out)");
  int16_t *pcm;
  size_t samples;
  if (!get_int16(env, argv[0], "pcm", &pcm, &samples)) return NULL;
  const uint8_t *out_c;
  size_t out_len;
  if (!get_bytes(env, argv[1], &out_c, &out_len)) return NULL;
  if (samples % (size_t)s->channels != 0) return throw_range(env, "pcm length must be a multiple of channels");
  int frame = (int)(samples / (size_t)s->channels);
  if (samples > MAX_FRAME_SAMPLES * 2 || !valid_frame(s->sample_rate, frame))
    return throw_range(env, "pcm must hold 2.5, 5, 10, 20, 40 or 60 ms of audio");
  if (out_len == 0) return throw_range(env, "output buffer is empty");
  opus_int32 cap = out_len > MAX_PACKET_BYTES ? MAX_PACKET_BYTES : (opus_int32)out_len;
  int n = opus_encode(s->enc, pcm, frame, (unsigned char *)out_c, cap);
  if (n < 0) return throw_opus(env, "opus_encode", n);
  napi_value result;
  CHECK(env, napi_create_int32(env, n, &result));
  return result;
}

static napi_value encoder_set_ctl(napi_env env, napi_callback_info info, int which, int32_t lo, int32_t hi,
                                  const char *name) {
  size_t argc = 1;
  napi_value argv[1], self;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  EncoderState *s = unwrap_encoder(env, self);
  if (s == NULL) return NULL;
  if (argc < 1) return throw_type(env, "missing argument");
  int32_t v;
  napi_valuetype t;
  napi_typeof(env, argv[0], &t);
  if (t == napi_boolean) {
    bool b = false;
    napi_get_value_bool(env, argv[0], &b);
    v = b ? 1 : 0;
  } else if (!get_int(env, argv[0], name, &v)) {
    return NULL;
  }
  if (v < lo || v > hi) {
    char buf[96];
    snprintf(buf, sizeof buf, "%s out of range [%d, %d]", name, lo, hi);
    return throw_range(env, buf);
  }
  int err = OPUS_OK;
  switch (which) {
    case 0: err = opus_encoder_ctl(s->enc, OPUS_SET_BITRATE(v)); break;
    case 1: err = opus_encoder_ctl(s->enc, OPUS_SET_INBAND_FEC(v)); break;
    case 2: err = opus_encoder_ctl(s->enc, OPUS_SET_PACKET_LOSS_PERC(v)); break;
    case 3: err = opus_encoder_ctl(s->enc, OPUS_SET_COMPLEXITY(v)); break;
    case 4: err = opus_encoder_ctl(s->enc, OPUS_SET_DTX(v)); break;
    default: err = OPUS_UNIMPLEMENTED;
  }
  if (err != OPUS_OK) return throw_opus(env, name, err);
  return NULL;
}

static napi_value encoder_set_bitrate(napi_env env, napi_callback_info info) {
  return encoder_set_ctl(env, info, 0, 500, 512000, "bitrate");
}
static napi_value encoder_set_inband_fec(napi_env env, napi_callback_info info) {
  return encoder_set_ctl(env, info, 1, 0, 1, "inbandFec");
}
static napi_value encoder_set_packet_loss_perc(napi_env env, napi_callback_info info) {
  return encoder_set_ctl(env, info, 2, 0, 100, "packetLossPerc");
}
static napi_value encoder_set_complexity(napi_env env, napi_callback_info info) {
  return encoder_set_ctl(env, info, 3, 0, 10, "complexity");
}
static napi_value encoder_set_dtx(napi_env env, napi_callback_info info) {
  return encoder_set_ctl(env, info, 4, 0, 1, "dtx");
}

static napi_value encoder_destroy(napi_env env, napi_callback_info info) {
  napi_value self;
  CHECK(env, napi_get_cb_info(env, info, NULL, NULL, &self, NULL));
  EncoderState *s = NULL;
  if (napi_unwrap(env, self, (void **)&s) == napi_ok && s != NULL && s->enc != NULL) {
    opus_encoder_destroy(s->enc);
    s->enc = NULL;
  }
  return NULL;
}

/* ---------------------------------------------------------------- decoder */

static void decoder_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  DecoderState *s = (DecoderState *)data;
  if (s->dec) opus_decoder_destroy(s->dec);
  free(s);
}

static DecoderState *unwrap_decoder(napi_env env, napi_value self) {
  DecoderState *s = NULL;
  if (napi_unwrap(env, self, (void **)&s) != napi_ok || s == NULL) {
    napi_throw_type_error(env, "ERR_OPUS_ARG", "not an OpusDecoder");
    return NULL;
  }
  if (s->dec == NULL) {
    napi_throw_error(env, "ERR_OPUS_DESTROYED", "OpusDecoder has been destroyed");
    return NULL;
  }
  return s;
}

static napi_value decoder_new(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], self;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  if (argc < 2) return throw_type(env, "OpusDecoder(sampleRate, channels)");
  int32_t rate, channels;
  if (!get_int(env, argv[0], "sampleRate", &rate)) return NULL;
  if (!get_int(env, argv[1], "channels", &channels)) return NULL;
  if (!valid_rate(rate)) return throw_range(env, "sampleRate must be 8000, 12000, 16000, 24000 or 48000");
  if (channels != 1 && channels != 2) return throw_range(env, "channels must be 1 or 2");
  int err = 0;
  OpusDecoder *dec = opus_decoder_create(rate, channels, &err);
  if (err != OPUS_OK || dec == NULL) return throw_opus(env, "opus_decoder_create", err);
  DecoderState *s = (DecoderState *)calloc(1, sizeof *s);
  if (s == NULL) {
    opus_decoder_destroy(dec);
    napi_throw_error(env, "ERR_OPUS_NOMEM", "out of memory");
    return NULL;
  }
  s->dec = dec;
  s->channels = channels;
  s->sample_rate = rate;
  if (napi_wrap(env, self, s, decoder_finalize, NULL, NULL) != napi_ok) {
    decoder_finalize(env, s, NULL);
    throw_last_error(env);
    return NULL;
  }
  return self;
}

/*
 * Shared body of decodeInto / decodePlcInto / decodeFecInto.
 * mode 0: decode packet; 1: conceal (NULL packet) for frameSamples; 2: recover the previous frame from
 * the in-band FEC of packet, frameSamples long.
 * JS: decodeInto(packet, out) / decodePlcInto(frameSamples, out) / decodeFecInto(packet, frameSamples, out)
 * Returns the number of samples per channel written into out.
 */
static napi_value decoder_run(napi_env env, napi_callback_info info, int mode) {
  size_t argc = 3;
  napi_value argv[3], self;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  DecoderState *s = unwrap_decoder(env, self);
  if (s == NULL) return NULL;
  size_t need = mode == 2 ? 3 : 2;
  if (argc < need) return throw_type(env, "missing arguments");
  const uint8_t *packet = NULL;
  size_t packet_len = 0;
  int32_t frame = MAX_FRAME_SAMPLES * s->sample_rate / 48000;
  napi_value out_arg;
  if (mode == 0) {
    if (!get_bytes(env, argv[0], &packet, &packet_len)) return NULL;
    out_arg = argv[1];
  } else if (mode == 1) {
    if (!get_int(env, argv[0], "frameSamples", &frame)) return NULL;
    out_arg = argv[1];
  } else {
    if (!get_bytes(env, argv[0], &packet, &packet_len)) return NULL;
    if (!get_int(env, argv[1], "frameSamples", &frame)) return NULL;
    out_arg = argv[2];
  }
  int16_t *out;
  size_t out_len;
  if (!get_int16(env, out_arg, "out", &out, &out_len)) return NULL;
  if (mode != 0) {
    /* libopus requires a multiple of 2.5 ms for PLC/FEC. */
    int quantum = s->sample_rate / 400;
    if (frame <= 0 || frame % quantum != 0 || frame > MAX_FRAME_SAMPLES * s->sample_rate / 48000)
      return throw_range(env, "frameSamples must be a positive multiple of 2.5 ms, at most 120 ms");
  }
  if (mode != 1 && (packet_len == 0 || packet_len > MAX_PACKET_BYTES))
    return throw_range(env, "packet length must be 1..4000 bytes");
  int capacity = (int)(out_len / (size_t)s->channels);
  if (mode == 0) {
    /* Check the duration before decoding so a short output buffer is a clear error, not a codec one. */
    int n = opus_packet_get_nb_samples(packet, (opus_int32)packet_len, s->sample_rate);
    if (n < 0) return throw_opus(env, "opus_decode", n);
    if (n > capacity) return throw_range(env, "out is too small for the packet's duration");
    frame = n;
  } else if (frame > capacity) {
    return throw_range(env, "out is too small for frameSamples");
  }
  int n = opus_decode(s->dec, mode == 1 ? NULL : packet, mode == 1 ? 0 : (opus_int32)packet_len, out, frame,
                      mode == 2 ? 1 : 0);
  if (n < 0) return throw_opus(env, "opus_decode", n);
  napi_value result;
  CHECK(env, napi_create_int32(env, n, &result));
  return result;
}

static napi_value decoder_decode_into(napi_env env, napi_callback_info info) { return decoder_run(env, info, 0); }
static napi_value decoder_plc_into(napi_env env, napi_callback_info info) { return decoder_run(env, info, 1); }
static napi_value decoder_fec_into(napi_env env, napi_callback_info info) { return decoder_run(env, info, 2); }

static napi_value decoder_destroy(napi_env env, napi_callback_info info) {
  napi_value self;
  CHECK(env, napi_get_cb_info(env, info, NULL, NULL, &self, NULL));
  DecoderState *s = NULL;
  if (napi_unwrap(env, self, (void **)&s) == napi_ok && s != NULL && s->dec != NULL) {
    opus_decoder_destroy(s->dec);
    s->dec = NULL;
  }
  return NULL;
}

/* Returns the number of samples per channel in a packet at sampleRate, or throws if it is invalid. */
static napi_value packet_samples(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return throw_type(env, "packetSamples(packet, sampleRate)");
  const uint8_t *packet;
  size_t len;
  int32_t rate;
  if (!get_bytes(env, argv[0], &packet, &len)) return NULL;
  if (!get_int(env, argv[1], "sampleRate", &rate)) return NULL;
  if (!valid_rate(rate)) return throw_range(env, "sampleRate must be 8000, 12000, 16000, 24000 or 48000");
  if (len == 0 || len > MAX_PACKET_BYTES) return throw_range(env, "packet length must be 1..4000 bytes");
  int n = opus_packet_get_nb_samples(packet, (opus_int32)len, rate);
  if (n < 0) return throw_opus(env, "opus_packet_get_nb_samples", n);
  napi_value result;
  CHECK(env, napi_create_int32(env, n, &result));
  return result;
}

#define METHOD(name, fn) {name, NULL, fn, NULL, NULL, NULL, napi_default_method, NULL}

NAPI_MODULE_INIT() {
  napi_property_descriptor enc_props[] = {
      METHOD("encodeInto", encoder_encode_into),
      METHOD("setBitrate", encoder_set_bitrate),
      METHOD("setInbandFec", encoder_set_inband_fec),
      METHOD("setPacketLossPerc", encoder_set_packet_loss_perc),
      METHOD("setComplexity", encoder_set_complexity),
      METHOD("setDtx", encoder_set_dtx),
      METHOD("destroy", encoder_destroy),
  };
  napi_property_descriptor dec_props[] = {
      METHOD("decodeInto", decoder_decode_into),
      METHOD("decodePlcInto", decoder_plc_into),
      METHOD("decodeFecInto", decoder_fec_into),
      METHOD("destroy", decoder_destroy),
  };
  napi_value enc_class, dec_class, fn, version;
  if (napi_define_class(env, "OpusEncoder", NAPI_AUTO_LENGTH, encoder_new, NULL,
                        sizeof enc_props / sizeof enc_props[0], enc_props, &enc_class) != napi_ok ||
      napi_define_class(env, "OpusDecoder", NAPI_AUTO_LENGTH, decoder_new, NULL,
                        sizeof dec_props / sizeof dec_props[0], dec_props, &dec_class) != napi_ok ||
      napi_create_function(env, "packetSamples", NAPI_AUTO_LENGTH, packet_samples, NULL, &fn) != napi_ok ||
      napi_create_string_utf8(env, opus_get_version_string(), NAPI_AUTO_LENGTH, &version) != napi_ok) {
    throw_last_error(env);
    return NULL;
  }
  napi_set_named_property(env, exports, "OpusEncoder", enc_class);
  napi_set_named_property(env, exports, "OpusDecoder", dec_class);
  napi_set_named_property(env, exports, "packetSamples", fn);
  napi_set_named_property(env, exports, "version", version);
  return exports;
}
