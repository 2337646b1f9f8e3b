namespace RnnFun
