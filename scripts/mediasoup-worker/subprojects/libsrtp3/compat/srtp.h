/* Roundtable compat layer: the libsrtp3 calls mediasoup's worker makes, on top of libsrtp 2.5.
 *
 * libsrtp3 protects from an input buffer into a separate output buffer with size_t lengths (the
 * output length is in/out: capacity in, written length out) and takes an MKI index; libsrtp 2.5
 * works in place with int lengths. The worker passes an output buffer at least SRTP_MAX_TRAILER_LEN
 * larger than the packet, so copying the packet there and protecting in place is equivalent. */
#ifndef ROUNDTABLE_SRTP_COMPAT_H
#define ROUNDTABLE_SRTP_COMPAT_H

#include_next <srtp.h>

#ifdef __cplusplus
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>

/* Error codes that libsrtp3 added after libsrtp 2.5's last one (srtp_err_status_pkt_idx_adv = 27).
 * libsrtp 2.5 never returns them; the compat functions below return buffer_small. */
#define srtp_err_status_buffer_small (static_cast<srtp_err_status_t>(28))
#define srtp_err_status_cryptex_err (static_cast<srtp_err_status_t>(29))

namespace roundtable_srtp_compat
{
	using InPlace = srtp_err_status_t (*)(srtp_t, void*, int*);

	inline srtp_err_status_t Protect(
	  InPlace fn, srtp_t ctx, const uint8_t* in, size_t inLen, uint8_t* out, size_t* outLen, size_t trailer)
	{
		if (inLen > static_cast<size_t>(INT_MAX) - trailer || *outLen < inLen + trailer)
			return srtp_err_status_buffer_small;
		if (out != in)
			std::memmove(out, in, inLen);
		int len = static_cast<int>(inLen);
		const srtp_err_status_t err = fn(ctx, out, &len);
		if (err == srtp_err_status_ok)
			*outLen = static_cast<size_t>(len);
		return err;
	}

	inline srtp_err_status_t Unprotect(
	  InPlace fn, srtp_t ctx, const uint8_t* in, size_t inLen, uint8_t* out, size_t* outLen)
	{
		if (inLen > static_cast<size_t>(INT_MAX) || *outLen < inLen)
			return srtp_err_status_buffer_small;
		if (out != in)
			std::memmove(out, in, inLen);
		int len = static_cast<int>(inLen);
		const srtp_err_status_t err = fn(ctx, out, &len);
		if (err == srtp_err_status_ok)
			*outLen = static_cast<size_t>(len);
		return err;
	}
} // namespace roundtable_srtp_compat

/* Overloads (C++ linkage) beside libsrtp 2.5's C functions of the same names. The worker only uses
 * MKI index 0, which means "no MKI" in both APIs; any other index is refused rather than guessed. */
inline srtp_err_status_t srtp_protect(
  srtp_t ctx, const uint8_t* rtp, size_t rtpLen, uint8_t* srtp, size_t* srtpLen, size_t mkiIndex)
{
	if (mkiIndex != 0)
		return srtp_err_status_bad_mki;
	return roundtable_srtp_compat::Protect(
	  ::srtp_protect, ctx, rtp, rtpLen, srtp, srtpLen, SRTP_MAX_TRAILER_LEN);
}

inline srtp_err_status_t srtp_unprotect(
  srtp_t ctx, const uint8_t* srtp, size_t srtpLen, uint8_t* rtp, size_t* rtpLen)
{
	return roundtable_srtp_compat::Unprotect(::srtp_unprotect, ctx, srtp, srtpLen, rtp, rtpLen);
}

inline srtp_err_status_t srtp_protect_rtcp(
  srtp_t ctx, const uint8_t* rtcp, size_t rtcpLen, uint8_t* srtcp, size_t* srtcpLen, size_t mkiIndex)
{
	if (mkiIndex != 0)
		return srtp_err_status_bad_mki;
	return roundtable_srtp_compat::Protect(
	  ::srtp_protect_rtcp, ctx, rtcp, rtcpLen, srtcp, srtcpLen, SRTP_MAX_TRAILER_LEN + 4 /* SRTCP index */);
}

inline srtp_err_status_t srtp_unprotect_rtcp(
  srtp_t ctx, const uint8_t* srtcp, size_t srtcpLen, uint8_t* rtcp, size_t* rtcpLen)
{
	return roundtable_srtp_compat::Unprotect(::srtp_unprotect_rtcp, ctx, srtcp, srtcpLen, rtcp, rtcpLen);
}
/* libsrtp3 renamed srtp_remove_stream(). */
inline srtp_err_status_t srtp_stream_remove(srtp_t session, unsigned int ssrc)
{
	return srtp_remove_stream(session, ssrc);
}
#endif /* __cplusplus */

#endif
