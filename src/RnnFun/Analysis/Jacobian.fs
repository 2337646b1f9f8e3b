namespace RnnFun

open TorchSharp

/// State Jacobians dF/dh of one step, batched over many states: J[b, i, j] = dF_i / dh_j.
/// (The true Jacobian, not pyrnn's transpose.)
[<RequireQualifiedAccess>]
module Jacobian =
    /// The Jacobian of a row-wise function by autograd: one backward pass per output, all states at
    /// once (each state's output depends only on its own input, so the batch sum separates them).
    /// h [batch; units] -> [batch; units; units]. Opens no scope.
    let autogradOf (f: Tensor -> Tensor) (h: Tensor) : Tensor =
        use _ = torch.enable_grad ()
        let x = h.detach().clone().requires_grad_(true) // [batch; units]
        let y = f x // [batch; units]
        let units = int h.shape[1]
        let rows =
            Array.init units (fun i ->
                let gi = y.select(1L, int64 i).sum()
                let g = torch.autograd.grad([| gi |], [| x |], retain_graph = (i < units - 1))
                g[0].detach()) // [batch; units]: df_i/dh
        torch.stack(rows, 1L) // [batch; units(i); units(j)]

    /// `autogradOf` the kind's step: dF/dh [batch; units; units]. Opens no scope.
    let autograd (kind: Kind) (w: Weights) (h: Tensor) (drive: Tensor) : Tensor = autogradOf (fun x -> kind.Step w x drive) h

    /// The kind's closed form when it has one, else autograd. Opens no scope.
    let ofStates (kind: Kind) (w: Weights) (h: Tensor) (drive: Tensor) : Tensor =
        match Kind.closedFormJacobian kind with
        | Some closed -> closed w h drive
        | None -> autograd kind w h drive

    /// Jacobians at states under constant inputs, as plain data: states [k][units], inputs [k][inputs]
    /// -> [k][units][units]. Computed in the network's precision.
    let atStates (net: Network) (states: float[][]) (inputs: float[][]) : float[][][] =
        if states.Length <> inputs.Length then Check.fail "inputs" (sprintf "expected one input per state (%d), got %d" states.Length inputs.Length)
        if states.Length = 0 then [||]
        else
            Check.matrixShape "states" states.Length (Network.stateSize net) states
            Check.matrixShape "inputs" inputs.Length net.Sizes.Inputs inputs
            use _ = torch.NewDisposeScope()
            let w = Network.weights net
            let h = Arrays.matrixToTensor net.Precision states // [k; units]
            let u = Arrays.matrixToTensor net.Precision inputs // [k; inputs]
            let drive = net.Kind.InputDrive w u // [k; drive]
            let j = ofStates net.Kind w h drive // [k; units; units]
            let n = Network.stateSize net
            let flat = Arrays.ofTensor j
            Array.init states.Length (fun b -> Array.init n (fun i -> Array.sub flat ((b * n + i) * n) n))

    /// The input Jacobian dF/du of one step, B[b, i, j] = dF_i / du_j, by autograd through the kind's
    /// drive and step: one backward pass for v' B and one per input for its derivative in v (B is
    /// linear in v), so the cost grows with the inputs, not the state. h [batch; state], u [batch;
    /// inputs] -> [batch; state; inputs]. Opens no scope.
    let inputAutograd (kind: Kind) (w: Weights) (h: Tensor) (u: Tensor) : Tensor =
        let batch, n, m = h.shape[0], h.shape[1], u.shape[1]
        if m = 0L then torch.zeros([| batch; n; 0L |], dtype = h.dtype)
        else
            use _ = torch.enable_grad ()
            let uu = u.detach().clone().requires_grad_(true) // [batch; inputs]
            let y = kind.Step w (h.detach ()) (kind.InputDrive w uu) // [batch; state]
            // A step that does not depend on the input (a kind of one's own, or no input weights
            // reaching the state) has B = 0: autograd refuses an output without a graph.
            if not y.requires_grad then torch.zeros([| batch; n; m |], dtype = h.dtype) else
            let v = torch.zeros_like(y).requires_grad_(true) // [batch; state]
            let vB = torch.autograd.grad([| y |], [| uu |], [| v |], retain_graph = true, create_graph = true, allow_unused = true)[0] // [batch; inputs]
            if isNull vB || not vB.requires_grad then torch.zeros([| batch; n; m |], dtype = h.dtype)
            else
                let columns =
                    Array.init (int m) (fun j ->
                        let g = torch.autograd.grad([| vB.select(1L, int64 j).sum() |], [| v |], retain_graph = (int64 j < m - 1L), allow_unused = true)[0]
                        if isNull g then torch.zeros([| batch; n |], dtype = h.dtype) else g.detach ()) // [batch; state]
                torch.stack(columns, 2L) // [batch; state; inputs]

    /// Input Jacobians at states under constant inputs, as plain data: states [k][state], inputs
    /// [k][inputs] -> [k][state][inputs]. Computed in the network's precision.
    let inputAtStates (net: Network) (states: float[][]) (inputs: float[][]) : float[][][] =
        if states.Length <> inputs.Length then Check.fail "inputs" (sprintf "expected one input per state (%d), got %d" states.Length inputs.Length)
        if states.Length = 0 then [||]
        else
            Check.matrixShape "states" states.Length (Network.stateSize net) states
            Check.matrixShape "inputs" inputs.Length net.Sizes.Inputs inputs
            use _ = torch.NewDisposeScope()
            let w = Network.weights net
            let h = Arrays.matrixToTensor net.Precision states // [k; state]
            let u = Arrays.matrixToTensor net.Precision inputs // [k; inputs]
            let b = inputAutograd net.Kind w h u // [k; state; inputs]
            let n, m = Network.stateSize net, net.Sizes.Inputs
            let flat = Arrays.ofTensor b
            Array.init states.Length (fun s -> Array.init n (fun i -> Array.sub flat ((s * n + i) * m) m))
