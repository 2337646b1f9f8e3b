module RnnFun.Tests.TorchTests

open Expecto
open TorchSharp

[<Tests>]
let tests =
    testList "Torch" [
        test "libtorch loads and multiplies matrices" {
            use a = torch.tensor([| 1.0; 2.0; 3.0; 4.0 |]).reshape(2L, 2L)
            use b = torch.tensor([| 5.0; 6.0; 7.0; 8.0 |]).reshape(2L, 2L)
            use c = torch.mm(a, b)
            // [[1,2],[3,4]] x [[5,6],[7,8]] = [[19,22],[43,50]]
            Expect.sequenceEqual (c.data<float>().ToArray()) [| 19.0; 22.0; 43.0; 50.0 |] "2x2 product"
        }
        test "autograd computes a gradient" {
            use x = torch.tensor([| 3.0 |], requires_grad = true)
            use y = x * x
            y.backward()
            Expect.equal (x.grad.item<float>()) 6.0 "d(x^2)/dx at 3"
        }
    ]
