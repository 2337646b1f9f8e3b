namespace RnnFun

open System

/// A closed interval [Lo, Hi] of reals, for enclosures that hold whatever the rounding: every
/// operation rounds its lower end down and its upper end up by one unit in the last place (the
/// float64 result of +, -, * is within half an ulp of the exact one), so the exact result of the
/// real operation on any points of the operands lies inside.
[<Struct>]
type Interval =
    { Lo: float
      Hi: float }

    override i.ToString() = sprintf "[%.17g, %.17g]" i.Lo i.Hi

/// Interval arithmetic with outward rounding, and rigorous enclosures of tanh, the logistic sigmoid
/// and their derivatives over an interval (each is monotone, or monotone in |x|, so its ends give
/// the range; the library's value at an end is widened by `ElementaryUlps` ulps, more than the error
/// of .NET's Math.Tanh and Math.Exp, which call the platform's libm: glibc documents at most 2 ulp
/// for tanh and 1 for exp on x86-64).
[<RequireQualifiedAccess>]
module Interval =
    /// Ulps by which an elementary function's value is widened on each side.
    [<Literal>]
    let ElementaryUlps = 4

    let inline private down (x: float) = Math.BitDecrement x
    let inline private up (x: float) = Math.BitIncrement x

    let rec private downBy (k: int) (x: float) = if k = 0 then x else downBy (k - 1) (Math.BitDecrement x)
    let rec private upBy (k: int) (x: float) = if k = 0 then x else upBy (k - 1) (Math.BitIncrement x)

    /// The degenerate interval [x, x] (x is exact: it is a float64).
    let point (x: float) : Interval = { Lo = x; Hi = x }

    /// [lo, hi]; `InvalidArgument` unless lo <= hi.
    let create (lo: float) (hi: float) : Interval =
        if not (lo <= hi) then Check.fail "interval" (sprintf "expected lo <= hi, got [%g, %g]" lo hi)
        { Lo = lo; Hi = hi }

    /// x + [-r, r], outward.
    let around (x: float) (r: float) : Interval = { Lo = down (x - r); Hi = up (x + r) }

    let add (a: Interval) (b: Interval) : Interval = { Lo = down (a.Lo + b.Lo); Hi = up (a.Hi + b.Hi) }

    let sub (a: Interval) (b: Interval) : Interval = { Lo = down (a.Lo - b.Hi); Hi = up (a.Hi - b.Lo) }

    let neg (a: Interval) : Interval = { Lo = -a.Hi; Hi = -a.Lo }

    let mul (a: Interval) (b: Interval) : Interval =
        let p1, p2, p3, p4 = a.Lo * b.Lo, a.Lo * b.Hi, a.Hi * b.Lo, a.Hi * b.Hi
        { Lo = down (min (min p1 p2) (min p3 p4)); Hi = up (max (max p1 p2) (max p3 p4)) }

    /// c * a for a float c (exact as given).
    let scale (c: float) (a: Interval) : Interval =
        if c >= 0.0 then { Lo = down (c * a.Lo); Hi = up (c * a.Hi) } else { Lo = down (c * a.Hi); Hi = up (c * a.Lo) }

    /// x^2 over the interval (tighter than mul a a when it holds 0).
    let square (a: Interval) : Interval =
        if a.Lo >= 0.0 then { Lo = down (a.Lo * a.Lo); Hi = up (a.Hi * a.Hi) }
        elif a.Hi <= 0.0 then { Lo = down (a.Hi * a.Hi); Hi = up (a.Lo * a.Lo) }
        else { Lo = 0.0; Hi = up (max (a.Lo * a.Lo) (a.Hi * a.Hi)) }

    /// max |x| over the interval.
    let magnitude (a: Interval) : float = max (abs a.Lo) (abs a.Hi)

    /// The smallest |x| over the interval.
    let mignitude (a: Interval) : float = if a.Lo > 0.0 then a.Lo elif a.Hi < 0.0 then -a.Hi else 0.0

    let contains (x: float) (a: Interval) = a.Lo <= x && x <= a.Hi

    /// Sum of intervals, outward.
    let sum (items: Interval seq) : Interval = Seq.fold add (point 0.0) items

    /// tanh over the interval: tanh is increasing, so [tanh lo, tanh hi], widened, within [-1, 1].
    let tanh (a: Interval) : Interval =
        { Lo = max -1.0 (downBy ElementaryUlps (Math.Tanh a.Lo)); Hi = min 1.0 (upBy ElementaryUlps (Math.Tanh a.Hi)) }

    /// tanh'(x) = 1 - tanh(x)^2 over the interval: even and decreasing in |x|, so its largest value is
    /// at the point of the interval nearest 0 and its smallest at the farthest; within [0, 1].
    let tanhDerivative (a: Interval) : Interval =
        let t (x: float) = { Lo = max 0.0 (downBy ElementaryUlps (Math.Tanh x)); Hi = min 1.0 (upBy ElementaryUlps (Math.Tanh x)) }
        let near, far = t (mignitude a), t (magnitude a)
        { Lo = max 0.0 (down (1.0 - up (far.Hi * far.Hi))); Hi = min 1.0 (up (1.0 - down (near.Lo * near.Lo))) }

    /// The logistic sigmoid 1 / (1 + e^-x) over the interval: increasing; within [0, 1].
    let sigmoid (a: Interval) : Interval =
        // 1 / (1 + e) with e = exp(-x) enclosed, then the division rounded outward.
        let s (x: float) (lower: bool) =
            let e = Math.Exp(-x)
            let e = if lower then upBy ElementaryUlps e else downBy ElementaryUlps e
            let d = if lower then up (1.0 + e) else down (1.0 + e)
            if lower then down (1.0 / d) else up (1.0 / d)
        { Lo = max 0.0 (s a.Lo true); Hi = min 1.0 (s a.Hi false) }

    /// sigmoid'(x) = s (1 - s) over the interval: even and decreasing in |x|; within [0, 1/4].
    let sigmoidDerivative (a: Interval) : Interval =
        let at (x: float) =
            let s = sigmoid (point x) // x >= 0: s in [1/2, 1)
            // s (1 - s) is decreasing in s on [1/2, 1].
            // An enclosure reaching below 1/2 holds the maximum 1/4 itself.
            { Lo = max 0.0 (down (s.Hi * down (1.0 - s.Hi))); Hi = (if s.Lo <= 0.5 then 0.25 else min 0.25 (up (s.Lo * up (1.0 - s.Lo)))) }
        let near, far = at (mignitude a), at (magnitude a)
        { Lo = far.Lo; Hi = near.Hi }

/// Plain float64 matrices for the certificates' approximate inverses.
[<RequireQualifiedAccess>]
module internal DenseMatrix =
    /// The inverse by Gauss-Jordan elimination with partial pivoting; None when a pivot vanishes.
    let inverse (a: float[][]) : float[][] option =
        let n = a.Length
        let m = Array.init n (fun i -> Array.append (Array.copy a[i]) (Array.init n (fun j -> if i = j then 1.0 else 0.0)))
        let mutable ok = true
        let mutable col = 0
        while ok && col < n do
            let mutable p = col
            for r in col + 1 .. n - 1 do
                if abs (m[r][col]) > abs (m[p][col]) then p <- r
            if not (abs (m[p][col]) > 0.0) || not (Double.IsFinite(m[p][col])) then ok <- false
            else
                let t = m[p]
                m[p] <- m[col]
                m[col] <- t
                let pivot = m[col][col]
                for j in 0 .. 2 * n - 1 do m[col][j] <- m[col][j] / pivot
                for r in 0 .. n - 1 do
                    if r <> col then
                        let f = m[r][col]
                        if f <> 0.0 then
                            for j in 0 .. 2 * n - 1 do m[r][j] <- m[r][j] - f * m[col][j]
                col <- col + 1
        if ok && m |> Array.forall (Array.forall Double.IsFinite) then Some(m |> Array.map (fun row -> Array.sub row n n)) else None
